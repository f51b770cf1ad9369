"""Per-user face templates, encrypted at rest with AES-256-GCM (key in the OS keyring).

Why: embeddings are biometric data (they can be used to search for a person, and a writable plaintext store
lets anyone add their own face — Howdy's weakness). GCM gives confidentiality AND integrity: a flipped byte, a
truncated file, or alice.fut renamed to bob.fut (the user name is bound as associated data) fails to open
instead of being trusted.

File `<user>.fut` = MAGIC (4 bytes: b"FUT" + format version) | nonce (12) | ciphertext + tag (16).

What GCM does NOT stop (issue 9.9): a rollback. An older `<user>.fut` of the same user, encrypted with the same
key, still opens — nothing here records which version is current. So in user mode anyone who can write this
folder (any process of the user) can put back a backup from before an appearance was removed or the templates
were replaced, and that face unlocks again. A version counter would have to live somewhere the same processes
cannot rewrite, and in user mode there is no such place (the keyring too is the user's). The daemon's system
store (faceunlock.service.system_store, root-owned directory, root-only key) is where this is closed: users
cannot write its files at all. Removing a user (`remove`) deletes the file; it does not revoke old copies.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from faceunlock import paths, secrets
from faceunlock.atomic import write_atomic
from faceunlock.errors import InvalidInput, StoreError

FORMAT_VERSION = 1
MAGIC = b"FUT" + bytes([FORMAT_VERSION])
NONCE_BYTES = 12
TAG_BYTES = 16
SUFFIX = ".fut"
_USER_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def validate_user(user: str) -> str:
    """Return `user` if it is a safe file name ([A-Za-z0-9_.-]{1,64}, no leading '.'), else ValueError."""
    if not isinstance(user, str) or not _USER_RE.fullmatch(user) or user.startswith("."):
        raise InvalidInput(
            f"invalid user name {user!r}: use 1-64 characters from A-Z a-z 0-9 _ . - not starting with '.'"
        )
    return user


def _aad(user: str) -> bytes:
    """Associated data: the format version and the user, so a file only opens under its own name."""
    return MAGIC + b"\x00user=" + user.encode("utf-8")


@dataclass
class TemplateEntry:
    """One enrolled appearance (e.g. "default", "glasses"): embeddings made by one specific model."""

    embeddings: list[list[float]]
    backbone: str
    sha256: str
    created: str
    label: str = "default"

    @classmethod
    def create(
        cls, embeddings: np.ndarray | list[list[float]], backbone: str, sha256: str, label: str = "default"
    ) -> TemplateEntry:
        """Build an entry stamped with the current UTC time, validating the embeddings."""
        entry = cls(
            embeddings=np.asarray(embeddings, dtype=np.float64).tolist(),
            backbone=backbone,
            sha256=sha256,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            label=label,
        )
        entry.validate()
        return entry

    def validate(self) -> None:
        """ValueError unless the entry is a non-empty 2-D block of finite floats with model identity set."""
        arr = np.asarray(self.embeddings, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(f"embeddings must be a non-empty N x D list, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("embeddings contain NaN or infinity")
        if not self.sha256 or not self.backbone:
            raise ValueError("a template entry must name the backbone and the model's sha256")

    def to_json(self) -> dict:
        return {
            "embeddings": [[float(x) for x in row] for row in self.embeddings],
            "backbone": self.backbone,
            "sha256": self.sha256,
            "created": self.created,
            "label": self.label,
        }

    @classmethod
    def from_json(cls, d: dict) -> TemplateEntry:
        entry = cls(
            embeddings=[[float(x) for x in row] for row in d["embeddings"]],
            backbone=str(d["backbone"]),
            sha256=str(d["sha256"]),
            created=str(d["created"]),
            label=str(d.get("label", "default")),
        )
        entry.validate()
        return entry


@dataclass
class UserTemplates:
    """All appearances enrolled for one user."""

    user: str
    entries: list[TemplateEntry] = field(default_factory=list)

    def has_model(self, sha256: str) -> bool:
        """Whether any template was made by the model with this weights hash."""
        return any(e.sha256 == sha256 for e in self.entries)

    def appearances_for(self, sha256: str) -> list[np.ndarray]:
        """One N x D float32 block per appearance made by model `sha256` (other models' are not comparable).

        Raises StoreError (fail closed) when none match, so a model change can never verify against nothing.
        """
        blocks = [np.asarray(e.embeddings, dtype=np.float32) for e in self.entries if e.sha256 == sha256]
        if not blocks:
            made_by = sorted({f"{e.backbone} ({e.sha256[:12]})" for e in self.entries}) or ["nothing"]
            raise StoreError(
                f"{self.user} has no templates made by the current model ({sha256[:12]}); templates exist for: "
                f"{', '.join(made_by)}. Enrol again with the current model."
            )
        dims = {b.shape[1] for b in blocks}
        if len(dims) != 1:
            raise StoreError(
                f"templates of {self.user} for model {sha256[:12]} have mixed sizes {sorted(dims)}"
            )
        return blocks

    def embeddings_for(self, sha256: str) -> np.ndarray:
        """All appearances' embeddings by model `sha256` in one N x D block."""
        return np.concatenate(self.appearances_for(sha256), axis=0)


class TemplateStore:
    """Encrypted `<user>.fut` files in a 0700 folder; the key is fetched from the keyring only when needed."""

    def __init__(self, root: Path | None = None, key: bytes | None = None) -> None:
        self.root = Path(root) if root is not None else paths.data_dir() / "templates"
        if key is not None and len(key) != 32:
            raise ValueError("the template-store key must be 32 bytes (AES-256)")
        self._key = key

    def _aesgcm(self) -> AESGCM:
        if self._key is None:
            # Mint a key only for an empty store: templates without their key mean a reset keyring, say so.
            self._key = secrets.get_or_create_store_key(create=not self.users())
        return AESGCM(self._key)

    def path(self, user: str) -> Path:
        return self.root / f"{validate_user(user)}{SUFFIX}"

    def exists(self, user: str) -> bool:
        return self.path(user).is_file()

    def users(self) -> list[str]:
        """Enrolled user names, sorted (temp files and foreign names are ignored)."""
        if not self.root.is_dir():
            return []
        names = []
        for p in self.root.iterdir():
            if p.suffix == SUFFIX and p.is_file():
                try:
                    names.append(validate_user(p.stem))
                except ValueError:
                    continue
        return sorted(names)

    def save(self, templates: UserTemplates) -> None:
        """Encrypt and write atomically (0600): a crash mid-save leaves the previous file intact."""
        path = self.path(templates.user)
        for e in templates.entries:
            e.validate()
        payload = {
            "version": FORMAT_VERSION,
            "user": templates.user,
            "entries": [e.to_json() for e in templates.entries],
        }
        plaintext = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        aes = self._aesgcm()
        nonce = os.urandom(NONCE_BYTES)
        blob = MAGIC + nonce + aes.encrypt(nonce, plaintext, _aad(templates.user))
        paths.ensure_private_dir(self.root)
        write_atomic(path, blob, mode=0o600)

    def load(self, user: str) -> UserTemplates:
        """Decrypt and verify `<user>.fut`; StoreError if missing, corrupt, tampered with or renamed."""
        path = self.path(user)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"no templates for {user}, enrol first (looked for {path})") from None
        except OSError as e:
            raise StoreError(f"cannot read {path}: {e}") from e
        bad = (
            f"{path} was tampered with or is corrupt (or was encrypted with another key / renamed from another "
            "user); remove it and enrol again"
        )
        if len(blob) < len(MAGIC) + NONCE_BYTES + TAG_BYTES:
            raise StoreError(f"{bad} [truncated: {len(blob)} bytes]")
        if blob[: len(MAGIC)] != MAGIC:
            if blob[:3] == MAGIC[:3]:
                raise StoreError(
                    f"{path} has format version {blob[3]}, this faceunlock reads {FORMAT_VERSION} (or the file was "
                    "tampered with)"
                )
            raise StoreError(f"{bad} [bad magic]")
        nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
        try:
            plaintext = self._aesgcm().decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], _aad(user))
        except InvalidTag:
            raise StoreError(f"{bad} [authentication failed]") from None
        try:
            payload = json.loads(plaintext)
            if payload.get("version") != FORMAT_VERSION or payload.get("user") != user:
                raise ValueError("version or user mismatch")
            entries = [TemplateEntry.from_json(d) for d in payload["entries"]]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise StoreError(f"{bad} [invalid content: {e}]") from e
        return UserTemplates(user=user, entries=entries)

    def put_appearance(self, user: str, entry: TemplateEntry, replace_all: bool = False) -> UserTemplates:
        """The one enrolment rule of every front end (CLI, wizard, daemon), saved in one atomic write:
        `replace_all` keeps only this appearance; otherwise an appearance with the same label (a new "glasses")
        replaces the old one and the others stay. A new user starts with this appearance."""
        if replace_all or not self.exists(user):
            templates = UserTemplates(user=validate_user(user), entries=[entry])
        else:
            templates = self.load(user)
            templates.entries = [e for e in templates.entries if e.label != entry.label] + [entry]
        self.save(templates)
        return templates

    def remove(self, user: str) -> bool:
        """Delete the user's templates; False if there were none."""
        try:
            self.path(user).unlink()
        except FileNotFoundError:
            return False
        return True
