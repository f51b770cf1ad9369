"""The enrolment wizard enrols from a real webcam video, covers head poses, sets the password on first use,
and never touches an earlier enrolment unless it finishes."""

from __future__ import annotations

import keyring
import pytest
from PySide6.QtCore import Qt

from faceunlock.gui.enroll import EnrollWizard
from faceunlock.secrets import PASSWORD_USER, SERVICE, check_password, has_password, set_password
from faceunlock.store import TemplateStore
from tests.gui.conftest import install_alice


def test_wizard_enrols_from_real_mov_with_pose_coverage(wizard_run, keyring_session, monkeypatch, record_property):
    s = wizard_run.summary
    print(f"wizard: {wizard_run.frames} frames in {wizard_run.seconds:.1f} s, max UI stall "
          f"{wizard_run.max_stall * 1000:.0f} ms, poses {wizard_run.poses}")  # fmt: skip
    record_property("wizard_max_stall_ms", round(wizard_run.max_stall * 1000, 1))
    assert s.user == "alice" and s.label == "default" and s.model == "dlib-resnet34"
    got = {key: (count, quota) for key, _, count, quota in wizard_run.poses}
    assert got["straight"] == (12, 12)
    # real.mov turns each way only briefly and MTCNN's landmarks on turned heads jitter around the yaw gate,
    # so the video may end one turned frame short of the quota: each pose must still be covered
    assert got["left"][1] == got["right"][1] == 4 and got["left"][0] >= 3 and got["right"][0] >= 3, got
    assert 18 <= s.frames_usable <= 20 and 3 <= s.templates <= s.frames_usable
    monkeypatch.setenv("FACEUNLOCK_HOME", str(wizard_run.home))
    stored = TemplateStore().load("alice")  # decrypts: encrypted with the keyring's store key
    assert [e.label for e in stored.entries] == ["default"]
    assert b"dlib-resnet34" not in wizard_run.fut  # encrypted at rest, not JSON
    assert wizard_run.max_stall < 0.1, f"UI stalled {wizard_run.max_stall * 1000:.0f} ms during enrolment"


def test_first_use_asks_for_password_and_cancel_keeps_previous_enrolment(qtbot, gui_home, provider, real_mov,
                                                                        wizard_run):  # fmt: skip
    if has_password():
        keyring.delete_password(SERVICE, PASSWORD_USER)
    install_alice(wizard_run, gui_home)
    store = TemplateStore()
    before = store.path("alice").read_bytes()

    w = EnrollWizard(provider, str(real_mov), user="alice", realtime=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.needs_password is True, timeout=10000)
    assert "already enrolled" in w.welcome_note.text()
    w.next_btn.click()
    assert w.page == w.PASSWORD and not w.next_btn.isEnabled()
    qtbot.keyClicks(w.pw1, "s3cret-pw")
    qtbot.keyClicks(w.pw2, "s3cret-px")
    assert not w.next_btn.isEnabled() and "differ" in w.pw_note.text()
    w.pw2.clear()
    qtbot.keyClicks(w.pw2, "s3cret-pw")
    assert w.next_btn.isEnabled()
    qtbot.keyClick(w.pw2, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.page == w.CAPTURE, timeout=10000)
    assert check_password("s3cret-pw") and not check_password("s3cret-px")

    thread = w.thread
    qtbot.waitUntil(lambda: w.bar.value() >= 10, timeout=60000)  # capture under way
    assert w.view.frames_shown > 0
    w.cancel_btn.click()
    assert not w.isVisible()
    assert thread.wait(20000)
    assert store.path("alice").read_bytes() == before  # untouched, byte for byte
    assert [p.name for p in store.root.iterdir()] == ["alice.fut"]  # no temp files left behind


def confirm_password(qtbot, w: EnrollWizard, pw: str) -> None:
    """Type `pw` into the wizard's "Confirm it's you" dialog and wait for the check."""
    d = w.proof_dialog
    assert d is not None and d.isVisible()
    qtbot.keyClicks(d.edit, pw)
    qtbot.keyClick(d.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not d.checking, timeout=20000)


def lockout_failures() -> int:
    from faceunlock.lockout import Lockout

    n = Lockout().failures
    return n() if callable(n) else n


@pytest.mark.parametrize("mode", ["add", "new"])
def test_changing_an_enrolled_user_needs_the_fallback_password(qtbot, gui_home, provider, real_mov, wizard_run,
                                                              mode):  # fmt: skip
    """Issue 9.6 in the GUI: adding an appearance to (or replacing) an enrolled user asks for the password in a
    dialog; a wrong one is refused, counted against the lockout, and nothing is captured or written."""
    set_password("correct horse")
    install_alice(wizard_run, gui_home)
    before = TemplateStore().path("alice").read_bytes()
    w = EnrollWizard(provider, str(real_mov), user="alice", mode=mode, realtime=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.needs_password is False, timeout=10000)
    w.next_btn.click()
    assert w.page == w.WELCOME and w.proof_dialog is not None  # asked before any capture
    confirm_password(qtbot, w, "not my password")
    d = w.proof_dialog
    assert d is not None and d.isVisible() and "Wrong fallback password" in d.note.text()
    assert w.page == w.WELCOME and w.thread is None and lockout_failures() == 1
    d.cancel_btn.click()
    assert w.proof_dialog is None and w.page == w.WELCOME
    assert TemplateStore().path("alice").read_bytes() == before
    w.next_btn.click()
    confirm_password(qtbot, w, "correct horse")
    qtbot.waitUntil(lambda: w.page == w.CAPTURE, timeout=10000)
    assert lockout_failures() == 0  # the right password resets the count, as at the lock screen
    w.reject()


def test_a_first_enrolment_needs_no_password(qtbot, gui_home, provider, real_mov):
    set_password("correct horse")
    w = EnrollWizard(provider, str(real_mov), user="bob", realtime=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.needs_password is False, timeout=10000)
    w.next_btn.click()
    assert w.proof_dialog is None and w.page == w.CAPTURE
    w.reject()


def test_add_appearance_keeps_the_default_one(qtbot, gui_home, provider, real_mov, wizard_run):
    """A short clip (frames 180-198) ends before the turned poses: the frontal frames are enough to enrol."""
    set_password("correct horse")
    install_alice(wizard_run, gui_home)
    w = EnrollWizard(provider, str(real_mov), user="alice", mode="add", realtime=False, skip=180)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.needs_password is False, timeout=10000)
    assert w.user_edit.isReadOnly()
    w.label_combo.setCurrentText("glasses")
    w.next_btn.click()
    confirm_password(qtbot, w, "correct horse")
    qtbot.waitUntil(lambda: w.page == w.CAPTURE, timeout=10000)
    qtbot.waitUntil(lambda: w.page == w.DONE, timeout=120000)
    assert w.summary is not None, w.done_text.text()
    assert "glasses" in w.done_title.text()
    labels = [e.label for e in TemplateStore().load("alice").entries]
    assert labels == ["default", "glasses"]
    w.next_btn.click()


def test_model_failure_shows_why_and_saves_nothing(qtbot, gui_home, real_mov):
    from faceunlock.errors import CalibrationError

    set_password("correct horse")

    def no_calibration():
        raise CalibrationError("no calibration for model dlib-resnet34")

    w = EnrollWizard(no_calibration, str(real_mov), user="bob", realtime=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.needs_password is False, timeout=10000)
    w.next_btn.click()
    qtbot.waitUntil(lambda: w.page == w.DONE, timeout=10000)
    assert "no calibration" in w.done_text.text() and "Nothing was changed" in w.done_text.text()
    assert not TemplateStore().exists("bob")


@pytest.mark.parametrize("name", ["", "../evil", "has space"])
def test_invalid_user_names_cannot_continue(qtbot, gui_home, provider, name):
    set_password("correct horse")
    w = EnrollWizard(provider, "0", user="carol")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.needs_password is False, timeout=10000)
    assert w.next_btn.isEnabled()
    w.user_edit.setText(name)
    assert not w.next_btn.isEnabled()
    w.reject()
