"""Shared pytest fixtures. Keep this file small: helpers live in their own modules under tests/."""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.keyring_session import KeyringSession, isolate_from_user_keyring, private_keyring


def pytest_configure(config: pytest.Config) -> None:
    # Tests must never read or write the developer's real keyring: without `keyring_session`, keyring fails.
    isolate_from_user_keyring()
    # One folder of compiled networks for every test, worker and subprocess (each test's FACEUNLOCK_HOME would
    # otherwise export the six networks again, ~4 s): keyed by the weights' sha256, so sharing it is exact.
    # tests/test_runtime.py exports into folders of its own.
    os.environ.setdefault("FACEUNLOCK_GRAPHS", str(Path(tempfile.gettempdir()) / f"faceunlock-test-graphs-{os.getuid()}"))


@pytest.fixture(scope="session")
def keyring_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyringSession]:
    """A real, unlocked gnome-keyring on a private D-Bus session bus (HOME and XDG_* in a temp dir) for the
    whole test session; `keyring.get_keyring()` is the Secret Service backend while it is active."""
    with private_keyring(tmp_path_factory.mktemp("keyring-session")) as session:
        yield session


@pytest.fixture(autouse=True)
def _keyring_still_up(request: pytest.FixtureRequest) -> None:
    """Before each test that uses the session's keyring: if gnome-keyring-daemon died (it aborts now and then on
    a busy machine, a GLib assertion, not ours), start it again on the same collection and say so in the report,
    instead of failing every later test of the session with "no secure OS keyring"."""
    if "keyring_session" not in request.fixturenames:
        return
    session: KeyringSession = request.getfixturevalue("keyring_session")
    if session.revive():
        request.node.warn(pytest.PytestWarning(f"gnome-keyring-daemon had died; restarted it ({session.revived}×)"))


@pytest.fixture
def fu_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """FACEUNLOCK_HOME in a temp dir: data, config and cache of this test stay there."""
    home = tmp_path / "fu-home"
    home.mkdir()
    monkeypatch.setenv("FACEUNLOCK_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _qt_garbage_in_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that uses Qt — all of tests/gui, and any other asking for `qtbot` or `qapp` (the daemon dialogs,
    the full-disk and lock-source attacks): Python's cycle collector runs only in the GUI thread, as it does in the
    app (GuiThreadGC: a cycle holding a Qt object, collected in a worker thread, corrupts Qt's heap — and the
    crash then surfaces later, in some other test's processEvents); and no worker thread outlives its test."""
    path = Path(str(request.node.path))
    if not ({"qtbot", "qapp"} & set(request.fixturenames) or "gui" in path.parent.parts[-1:]):
        yield
        return
    request.getfixturevalue("qapp")
    from faceunlock.gui.workers import GuiThreadGC, wait_retired

    kept = _keep_added_widgets(request)
    collector = GuiThreadGC()
    collector.start()
    yield
    assert wait_retired(20000), "a retired worker thread did not stop"
    kept.clear()
    collector.stop()
    gc.collect()


def _keep_added_widgets(request: pytest.FixtureRequest) -> list:
    """Hold every widget given to `qtbot.addWidget` until teardown. pytest-qt keeps only a weak reference, so a
    test's return destroyed its last widget at once — with a worker thread of the widget's still running, which
    makes Qt abort the process (CI, 2026-12-05: "Fatal Python error: Aborted" at the return of a main-window
    test). Held, the widget is closed by pytest-qt at teardown first, and its closeEvent retires the thread."""
    kept: list = []
    if "qtbot" not in request.fixturenames:
        return kept
    bot = request.getfixturevalue("qtbot")
    add = bot.addWidget

    def add_and_keep(widget, *, before_close_func=None) -> None:  # noqa: ANN001 - pytest-qt's own signature
        kept.append(widget)
        add(widget, before_close_func=before_close_func)

    bot.addWidget = add_and_keep
    return kept
