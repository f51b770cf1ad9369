"""Errors the user can act on. Each carries the exit code the CLI returns (2 = error, never "accepted")."""

from __future__ import annotations


class FaceUnlockError(Exception):
    """Base class: a message a person can act on; the CLI prints it and exits with `exit_code`."""

    exit_code = 2


class ImageReadError(FaceUnlockError):
    """An image or video file could not be decoded; the message names the file."""


class CameraError(FaceUnlockError):
    """The frame source could not be opened or stopped delivering frames."""


class WeightsError(FaceUnlockError):
    """Model weights are missing, untrained or do not match the architecture."""


class CalibrationError(FaceUnlockError):
    """No calibration for the active model, or one made for another model."""


class StoreError(FaceUnlockError):
    """The template store is missing, corrupt or has been tampered with."""


class KeyringError(FaceUnlockError):
    """The OS keyring is absent or locked; we never fall back to plaintext."""


class KeyringUnavailable(KeyringError):
    """No secure Secret Service provider is reachable (none running, no D-Bus session, an insecure backend)."""


class KeyringLocked(KeyringError):
    """The keyring is there but locked: the person must unlock it (log in again)."""


class DatasetError(FaceUnlockError):
    """A dataset folder is unusable (unreadable, too few identities...)."""


class InvalidInput(FaceUnlockError, ValueError):
    """A value the person typed (a user name, a flag, a password) is out of range; also a ValueError so that
    library callers that validate input keep catching what they caught before. The CLI maps only these (and
    other FaceUnlockErrors) to exit 2: any other exception is a bug and shows its traceback."""
