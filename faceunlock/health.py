"""Is every part an unlock needs in place? One report, as data, that `faceunlock doctor` prints and the main
window shows: model, calibration, liveness, keyring, camera, device — each with plain words and what to do.

Why one module: the CLI and the GUI used to check the same things twice and told keyring problems apart by
their message text. Here the checks run once, keyring problems are told apart by their type, and front ends
only choose how to show a `Check`. Nothing here raises for a missing part: a health report reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from faceunlock.errors import CalibrationError, FaceUnlockError, KeyringLocked, KeyringUnavailable

if TYPE_CHECKING:
    from faceunlock.auth import Engine


class State(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but not as it should for daily use (a video instead of a webcam, no password yet)
    ERROR = "error"  # an unlock cannot work until this is fixed


@dataclass
class Check:
    key: str  # model, calibration, liveness, keyring, camera, device, store
    title: str
    state: State
    text: str  # plain words: what is, and what to do when it is not fine
    detail: str = ""  # the full underlying message, when `text` is a summary
    fix: str = ""  # a command or action that fixes it (empty when fine)

    @property
    def ok(self) -> bool:
        return self.state != State.ERROR


@dataclass
class UserInfo:
    name: str
    appearances: list[str] = field(default_factory=list)
    problem: str = ""


@dataclass
class Health:
    checks: list[Check]
    users: list[UserInfo] = field(default_factory=list)
    engine: Engine | None = None  # built when model, calibration and liveness are all usable
    has_password: bool = False

    def check(self, key: str) -> Check:
        return next(c for c in self.checks if c.key == key)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def ready(self) -> bool:
        """Model, calibration and keyring usable: enrolling and testing can work (a camera may come later)."""
        return all(c.ok for c in self.checks if c.key != "camera")


def summarize(message: str, limit: int = 170) -> str:
    """The first sentence or two of a core error: enough to act on, short enough to read at a glance."""
    out = ""
    for part in message.replace("\n", " ").split(". "):
        candidate = f"{out}{part.rstrip('.')}. "
        if out and len(candidate) > limit:
            break
        out = candidate
    out = out.strip()
    out = out[:1].upper() + out[1:]
    return out if len(out) <= limit + 40 else out[:limit].rsplit(" ", 1)[0] + "…"


def _error(key: str, title: str, text: str, e: Exception | str, fix: str) -> Check:
    return Check(key, title, State.ERROR, text, str(e), fix)


def _model_rows(backbone, cal) -> list[Check]:
    label = "bundled, works offline" if backbone.name == "dlib-resnet34" else str(backbone.weights_path or "")
    rows = [Check("model", "Face model", State.OK, f"{backbone.name} ({label}).", backbone.describe())]
    try:
        a = cal.decision
    except CalibrationError as e:
        return rows + [_error("calibration", "Calibration", "The calibration cannot decide.", e,
                              "Run `faceunlock calibrate DATASET` on a folder-per-person set.")]  # fmt: skip
    worst = max(a.populations, key=lambda r: r["far_upper_95"], default={"far_upper_95": a.target_far})
    names = ", ".join(Path(r["population"]).name for r in a.populations) or cal.dataset.split(" (")[0]
    return rows + [
        Check("calibration", "Calibration", State.OK,
              f"Per attempt: threshold {a.threshold:.3f}, false accepts below {worst['far_upper_95']:.0e} "
              f"(measured on {names}).",
              f"{cal.dataset}; from {cal.notes.get('path', '?')}"),
    ]  # fmt: skip


def describe_engine(engine: Engine) -> list[Check]:
    """Model, calibration and liveness rows for an engine that loaded."""
    live = engine.liveness is not None
    return _model_rows(engine.backbone, engine.calibration) + [
        Check("liveness", "Photo and screen check", State.OK if live else State.WARN,
              "Photos and screens are refused." if live else "Switched off: a photo of you may unlock.",
              fix="" if live else "turn the liveness check back on"),
    ]  # fmt: skip


def check_engine(weights: str = "auto", device: str = "cpu", loaded: Engine | None = None,
                 ) -> tuple[list[Check], Engine | None]:  # fmt: skip
    """Rows for model, calibration and liveness, and the engine when all three load (`loaded` is reported)."""
    if loaded is not None:
        return describe_engine(loaded), loaded
    from faceunlock.auth import Engine
    from faceunlock.calibrate import find_calibration
    from faceunlock.pipeline import FaceProcessor
    from faceunlock.weights import auto_choice, resolve_backbone

    try:
        backbone = resolve_backbone(weights, device=device, compiled=True)  # as Engine.load builds it
    except FaceUnlockError as e:
        return [_error("model", "Face model", f"Not available: {summarize(str(e))}", e, "faceunlock models list"),
                _error("calibration", "Calibration", "Needs a face model first.", "", ""),
                _error("liveness", "Photo and screen check", "Needs a face model first.", "", "")], None  # fmt: skip
    why = f" ({auto_choice().reason})" if weights == "auto" else ""
    try:
        cal = find_calibration(backbone)
        cal.check_for(backbone)
    except FaceUnlockError as e:
        text = ("This model has no calibrated threshold, so it cannot tell people apart yet. Run `faceunlock "
                "calibrate DATASET_DIR` on a folder-per-person photo set.")  # fmt: skip
        return [Check("model", "Face model", State.OK, f"{backbone.name}.", backbone.describe() + why),
                _error("calibration", "Calibration", text, e, "faceunlock calibrate DATASET_DIR"),
                _error("liveness", "Photo and screen check", "Needs a calibrated model first.", "", "")], None
    rows = _model_rows(backbone, cal)
    rows[0].detail += why
    try:  # the same parts as Engine.load: the photo/screen check is part of every unlock
        from faceunlock.liveness import LivenessChecker

        checker = LivenessChecker.load(device=device)
    except FaceUnlockError as e:
        return rows + [_error("liveness", "Photo and screen check",
                              f"The anti-spoofing model is missing: {summarize(str(e))}", e,
                              "restore models/anti-spoof-minifasnet/ from the repository")], None  # fmt: skip
    engine = Engine(backbone, cal, FaceProcessor(backbone), checker)
    return rows + describe_engine(engine)[2:], engine


def check_keyring() -> tuple[Check, bool]:
    """The keyring row and whether a fallback password is set; locked and absent are told apart by type."""
    from faceunlock.secrets import has_password

    try:
        has = has_password()
    except KeyringLocked as e:
        return _error("keyring", "Keyring", "The keyring is locked. Unlock it (log in again, or use Seahorse), "
                      "then check again.", e, "unlock the 'Login' keyring"), False  # fmt: skip
    except KeyringUnavailable as e:
        return _error("keyring", "Keyring", "No secure keyring is running. Start gnome-keyring, KWallet or "
                      "KeePassXC in your desktop session, then check again.", e,
                      "gnome-keyring-daemon --start --components=secrets"), False  # fmt: skip
    except FaceUnlockError as e:
        return _error("keyring", "Keyring", summarize(str(e)), e, "start a Secret Service keyring"), False
    if has:
        return Check("keyring", "Keyring", State.OK, "Unlocked; your fallback password is set."), True
    return Check("keyring", "Keyring", State.WARN,
                 "Unlocked; no fallback password yet. You will choose one when you enrol.",
                 fix="enrol (the first enrolment sets the fallback password)"), False  # fmt: skip


def check_camera(source: str) -> Check:
    """Open the source and read one frame; a video or folder works but is flagged (not a camera)."""
    from faceunlock.capture import describe_source, is_camera, open_source

    fix = ("Plug in a webcam, close other apps using it, or choose another camera in Settings."
           if is_camera(source) else "Check the file or folder given with --source.")  # fmt: skip
    try:
        with open_source(source) as src:
            frame = src.read()
    except FaceUnlockError as e:
        return _error("camera", "Camera", f"{summarize(str(e))} {fix}", e, "--source VIDEO|FOLDER or a webcam")
    if frame is None:
        return _error("camera", "Camera", f"{describe_source(source)} opened but gave no picture. {fix}", "",
                      "--source VIDEO|FOLDER or a webcam")  # fmt: skip
    h, w = frame.shape[:2]
    if is_camera(source):
        return Check("camera", "Camera", State.OK, f"Camera {source} works ({w}×{h}).")
    return Check("camera", "Camera", State.WARN,
                 f"Using {describe_source(source)} ({w}×{h}) instead of a webcam (given with --source for this "
                 "run; Settings can only name a camera).")  # fmt: skip


def check_device(device: str = "cpu") -> Check:
    from faceunlock import runtime

    if runtime.onnx_runtime(device):  # asking torch about CUDA would import it: ~300 MiB in the app (decision 023)
        from importlib.metadata import version

        return Check("device", "Device", State.OK, f"CPU: the networks run on ONNX Runtime {version('onnxruntime')} "
                     f"(torch {version('torch')} is for fine-tuning and export); using {device}.")  # fmt: skip
    import torch

    cuda = torch.cuda.is_available()
    where = f"CUDA: {torch.cuda.get_device_name(0)}" if cuda else "no CUDA GPU: inference on CPU"
    return Check("device", "Device", State.OK, f"torch {torch.__version__}; {where}; using {device}.")


def list_users() -> list[UserInfo]:
    """Enrolled users and their appearances; a file that does not open is reported on its user, not raised."""
    from faceunlock.store import TemplateStore

    store = TemplateStore()
    out = []
    for name in store.users():
        info = UserInfo(name)
        try:
            info.appearances = [f"{e.label} ({e.backbone})" for e in store.load(name).entries]
        except FaceUnlockError as e:
            info.problem = summarize(str(e))
        out.append(info)
    return out


def check_all(source: str, weights: str = "auto", device: str = "cpu", loaded: Engine | None = None,
              ) -> Health:  # fmt: skip
    """Everything (slow: loads the model unless `loaded`, opens the camera; run it off a UI thread)."""
    rows, engine = check_engine(weights, device, loaded)
    keyring_row, has_pw = check_keyring()
    rows += [keyring_row, check_camera(source), check_device(device)]
    users: list[UserInfo] = []
    try:
        users = list_users()
    except FaceUnlockError as e:
        rows.append(_error("store", "Face data", summarize(str(e)), e, "faceunlock users list"))
    return Health(rows, users, engine, has_pw)
