"""What the main window reports: model, calibration, keyring, camera and the enrolled users, in plain words with
what to do when something is missing. No Qt: runs in a worker thread (it loads the model and opens the camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faceunlock.errors import FaceUnlockError
from faceunlock.gui.settings import Settings, describe_source, is_camera


@dataclass
class StatusRow:
    key: str
    title: str
    state: str  # "ok", "warn", "error"
    text: str
    detail: str = ""  # the full message (tooltip) when `text` is a summary


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


@dataclass
class UserInfo:
    name: str
    appearances: list[str] = field(default_factory=list)
    problem: str = ""


@dataclass
class SystemStatus:
    rows: list[StatusRow]
    users: list[UserInfo]
    engine: object | None = None  # faceunlock.auth.Engine when model and calibration are usable
    has_password: bool = False

    def row(self, key: str) -> StatusRow:
        return next(r for r in self.rows if r.key == key)

    @property
    def ready(self) -> bool:
        """Model, calibration and keyring usable: enrolling and testing can work (a camera may come later)."""
        return all(r.state != "error" for r in self.rows if r.key != "camera")


def _model_rows(backbone, cal, live: bool = True) -> list[StatusRow]:
    label = "bundled, works offline" if backbone.name == "dlib-resnet34" else str(backbone.weights_path or "")
    label += "; photos and screens are refused" if live else "; WITHOUT the photo-and-screen check"
    far = f"{cal.far_upper_95:.0e}" if cal.far_upper_95 > 0 else f"{cal.target_far:.0e}"
    dataset = cal.dataset.split(" (")[0]
    return [StatusRow("model", "Face model", "ok", f"{backbone.name} ({label})."),
            StatusRow("calibration", "Calibration", "ok",
                      f"Threshold {cal.threshold:.3f}, false accepts below {far} (measured on {dataset}).",
                      cal.dataset)]  # fmt: skip


def check_model(weights: str, device: str, loaded=None) -> tuple[list[StatusRow], object | None]:
    """Rows for model and calibration, and the engine; `loaded` (an engine already built) is reported as is."""
    if loaded is not None:
        return _model_rows(loaded.backbone, loaded.calibration, loaded.liveness is not None), loaded
    from faceunlock.auth import Engine
    from faceunlock.calibrate import find_calibration
    from faceunlock.pipeline import FaceProcessor
    from faceunlock.weights import resolve_backbone

    try:
        backbone = resolve_backbone(weights, device=device)
    except FaceUnlockError as e:
        return [StatusRow("model", "Face model", "error", f"Not available: {summarize(str(e))}", str(e)),
                StatusRow("calibration", "Calibration", "error", "Needs a face model first.")], None  # fmt: skip
    model = StatusRow("model", "Face model", "ok", f"{backbone.name}.")
    try:
        cal = find_calibration(backbone)
        cal.check_for(backbone)
    except FaceUnlockError as e:
        text = ("This model has no calibrated threshold, so it cannot tell people apart yet. Run `faceunlock "
                "calibrate DATASET_DIR` on a folder-per-person photo set.")  # fmt: skip
        return [model, StatusRow("calibration", "Calibration", "error", text, str(e))], None
    try:  # the same parts as Engine.load: the photo/screen check is part of every unlock
        from faceunlock.liveness import LivenessChecker

        checker = LivenessChecker.load(device=device)
    except FaceUnlockError as e:
        rows = _model_rows(backbone, cal)
        rows[0] = StatusRow("model", "Face model", "error",
                            f"The photo-and-screen check (anti-spoofing model) is missing: {summarize(str(e))}", str(e))  # fmt: skip
        return rows, None
    return _model_rows(backbone, cal), Engine(backbone, cal, FaceProcessor(backbone), checker)


def check_keyring() -> tuple[StatusRow, bool]:
    from faceunlock.secrets import has_password

    try:
        has = has_password()
    except FaceUnlockError as e:
        msg = str(e)
        if "locked" in msg.lower():
            text = "The keyring is locked. Unlock it (log in again, or use Seahorse), then press Check again."
        elif msg.startswith("No secure OS keyring"):
            text = ("No secure keyring is running. Start gnome-keyring, KWallet or KeePassXC in your desktop "
                    "session, then press Check again.")  # fmt: skip
        else:
            text = summarize(msg)
        return StatusRow("keyring", "Keyring", "error", text, msg), False
    if has:
        return StatusRow("keyring", "Keyring", "ok", "Unlocked; your fallback password is set."), True
    return StatusRow("keyring", "Keyring", "warn",
                     "Unlocked; no fallback password yet. You will choose one when you enrol."), False  # fmt: skip


def check_camera(source: str) -> StatusRow:
    from faceunlock.capture import open_source

    try:
        with open_source(source) as src:
            frame = src.read()
    except FaceUnlockError as e:
        fix = ("Plug in a webcam, close other apps using it, or choose a video file or image folder in Settings."
               if is_camera(source) else "Choose another source in Settings.")  # fmt: skip
        return StatusRow("camera", "Camera", "error", f"{summarize(str(e))} {fix}", str(e))
    if frame is None:
        return StatusRow("camera", "Camera", "error",
                         f"{describe_source(source)} opened but gave no picture. Choose another source in Settings.")  # fmt: skip
    h, w = frame.shape[:2]
    if is_camera(source):
        return StatusRow("camera", "Camera", "ok", f"Camera {source} works ({w}×{h}).")
    return StatusRow("camera", "Camera", "warn",
                     f"Using {describe_source(source)} ({w}×{h}) instead of a webcam (set in Settings).")  # fmt: skip


def list_users() -> list[UserInfo]:
    from faceunlock.store import TemplateStore

    store = TemplateStore()
    out = []
    for name in store.users():
        info = UserInfo(name)
        try:
            t = store.load(name)
            info.appearances = [f"{e.label} ({e.backbone})" for e in t.entries]
        except FaceUnlockError as e:
            info.problem = summarize(str(e))
        out.append(info)
    return out


def check_all(settings: Settings, weights: str = "auto", device: str = "cpu", loaded=None) -> SystemStatus:
    """Everything the main window shows (slow: loads the model unless `loaded`; call from a worker thread)."""
    model_rows, engine = check_model(weights, device, loaded)
    keyring_row, has_pw = check_keyring()
    rows = [*model_rows, keyring_row, check_camera(settings.source)]
    try:
        users = list_users()
    except FaceUnlockError as e:
        users, rows = [], rows + [StatusRow("store", "Face data", "error", summarize(str(e)), str(e))]
    return SystemStatus(rows, users, engine, has_pw)
