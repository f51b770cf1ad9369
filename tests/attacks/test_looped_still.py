"""Attack 2 (issue 9): one frame of real.mov looped ten times used to unlock.

A camera never delivers the same frame twice: sensor noise alone changes every pixel a little. Measured on
real.mov (docs/decisions/009-one-attempt.md): between consecutive judged frames the aligned chips differ by a
mean of 2.27–45 grey levels (median 7.3); a repeated frame differs by exactly 0. A judged frame closer than
`AuthPolicy.min_change` (1.0) to any earlier judged frame of the same face is no new evidence.
"""

from __future__ import annotations

import numpy as np
import pytest

from faceunlock.auth import Attempt, authenticate, chip_change
from faceunlock.lockout import Lockout
from faceunlock.policy import AuthPolicy
from tests.attacks.attempt_fixtures import engine, enrolled, owner, owner_later  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("keyring_session")
STILL = 100  # real.mov frame 100: usable, matches alice, scored 0.79 live


def test_a_looped_still_does_not_unlock(engine, owner, owner_later, tmp_path):  # noqa: F811
    still = owner_later[STILL - 100]
    frames = [still] * 10
    # the attack is real: each copy matches and is scored live, which was all the old rule asked
    r = engine.processor.analyze(still)
    assert r.usable and engine.liveness.score(still, r.face) >= 0.5
    assert Attempt(engine, owner).verifier.distance(engine.processor.embed_one(r.chip)) <= engine.calibration.threshold
    lockout = Lockout(tmp_path / "lockout.json")
    d = authenticate(engine, owner, frames, lockout=lockout)
    assert not d.accepted
    assert d.frames_usable == 1 and d.rejected_frames == {"repeated frame": 9}
    assert lockout.failures == 1  # a face was judged and did not get in


def test_two_stills_in_turn_do_not_unlock_either(engine, owner, owner_later):  # noqa: F811
    a, b = owner_later[0], owner_later[1]  # real.mov 100 and 101: two real frames, looped A B A B …
    d = authenticate(engine, owner, [a, b] * 5)
    assert not d.accepted and d.frames_usable == 2


def test_real_frames_differ_far_more_than_a_repeat(engine, owner_later):  # noqa: F811
    """The numbers the rule was chosen from, printed (pytest -s) and held."""
    chips = [r.chip for f in owner_later if (r := engine.processor.analyze(f)).usable]
    steps = [chip_change(a, b) for a, b in zip(chips, chips[1:], strict=False)]
    print(f"real.mov 100–198: {len(chips)} usable frames; Δ grey between consecutive ones: min {min(steps):.2f}, "
          f"median {np.median(steps):.2f}, max {max(steps):.2f}; the same frame repeated: {chip_change(chips[0], chips[0])}")  # fmt: skip
    assert chip_change(chips[0], chips[0]) == 0.0
    assert min(steps) > 2 * AuthPolicy().min_change  # measured 2.27: a margin of 2.27× over the limit


def test_the_owner_still_gets_in(engine, owner, owner_later):  # noqa: F811
    d = authenticate(engine, owner, owner_later)
    assert d.accepted, d.reason
    assert "repeated frame" not in d.rejected_frames  # no live frame of real.mov was mistaken for a repeat
