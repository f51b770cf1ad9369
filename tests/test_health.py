"""The one health report: real model, calibration, liveness, keyring and frame source, as data; `doctor` prints it."""

from __future__ import annotations

import pytest

from faceunlock import health
from faceunlock.health import State
from tests.cli.helpers import faceunlock
from tests.shared_data import REAL_MOV, need


@pytest.mark.usefixtures("keyring_session")
def test_everything_in_place_with_a_video_source(fu_home):
    from faceunlock.secrets import set_password

    need("liveness", "webcam-replay", "real.mov")
    set_password("correct horse")
    h = health.check_all(str(REAL_MOV), "dlib-resnet34")
    states = {c.key: c.state for c in h.checks}
    assert states == {"model": State.OK, "calibration": State.OK, "liveness": State.OK, "keyring": State.OK,
                      "camera": State.WARN, "device": State.OK}  # fmt: skip
    assert h.engine is not None and h.engine.liveness is not None
    assert "instead of a webcam" in h.check("camera").text
    assert h.ok and h.ready and h.users == []


def test_missing_parts_say_what_to_do(fu_home, tmp_path, monkeypatch):
    """No keyring (keyring's own 'fail' backend), a model that is not there, a camera that is not there."""
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    h = health.check_all(str(tmp_path / "no-camera.mp4"), str(tmp_path / "no-model.pt"))
    by = {c.key: c for c in h.checks}
    assert by["model"].state == State.ERROR and by["model"].fix
    assert by["calibration"].state == State.ERROR and by["liveness"].state == State.ERROR
    assert by["keyring"].state == State.ERROR and by["keyring"].text.startswith("No secure keyring")
    assert by["camera"].state == State.ERROR and "no-camera.mp4" in by["camera"].text
    assert h.engine is None and not h.ok and not h.ready


NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def test_doctor_prints_the_report_and_exits_2_when_a_part_is_missing(fu_home, tmp_path):
    r = faceunlock("doctor", "--source", tmp_path / "none.mp4", "--json", home=fu_home, env=NO_KEYRING)
    assert r.rc == 2, r.err
    out = r.json()
    keys = [c["key"] for c in out["checks"]]
    assert keys == ["model", "calibration", "liveness", "keyring", "camera", "device"]
    by = {c["key"]: c for c in out["checks"]}
    assert by["model"]["ok"] and by["calibration"]["ok"] and by["liveness"]["ok"]
    assert not by["camera"]["ok"] and not by["keyring"]["ok"] and not out["ok"]
    text = faceunlock("doctor", "--source", tmp_path / "none.mp4", home=fu_home, env=NO_KEYRING)
    assert text.rc == 2 and "✗ camera" in text.out and "→" in text.out
