"""The daemon's template store: the core TemplateStore, its AAD extended with the account's uid and the model.

Files live in `<state-dir>/templates/<model sha256[:16]>/<user>.fut`, AES-256-GCM with the key from keyfile.py.
The associated data binds the user name, the uid that name has now, and the model's full sha256, so a file copied
to another name, left behind by a deleted account whose uid was reused, or moved under another model does not
open. Templates made by another model are simply not found (the user enrols again), never compared.
"""

from __future__ import annotations

import pwd
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from faceunlock.store import TemplateEntry, TemplateStore, UserTemplates, validate_user


class NoSuchAccount(ValueError):
    """The name is not an OS account on this machine."""


def account_uid(user: str) -> int:
    validate_user(user)
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise NoSuchAccount(f"no OS account named {user!r}") from None


class _BoundAESGCM:
    """AESGCM whose associated data always ends with the uid/user/model binding."""

    def __init__(self, key: bytes, extra: bytes) -> None:
        self._aes, self._extra = AESGCM(key), extra

    def encrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return self._aes.encrypt(nonce, data, aad + self._extra)

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return self._aes.decrypt(nonce, data, aad + self._extra)


class _AccountStore(TemplateStore):
    """One account's view of the model folder: the core store with the binding added to every seal."""

    def __init__(self, root: Path, key: bytes, extra: bytes) -> None:
        super().__init__(root, key=key)
        self._extra = extra

    def _aesgcm(self) -> _BoundAESGCM:
        return _BoundAESGCM(self._key, self._extra)


class SystemStore:
    """Per-account templates for the daemon's one model."""

    def __init__(self, state_dir: Path, key: bytes, model_sha256: str) -> None:
        if len(key) != 32:
            raise ValueError("the system store key must be 32 bytes")
        self.root = Path(state_dir) / "templates" / model_sha256[:16]
        self.model_sha256 = model_sha256
        self._key = key

    def _for(self, user: str) -> _AccountStore:
        uid = account_uid(user)
        extra = f"\x00uid={uid}\x00user={user}\x00model={self.model_sha256}".encode()
        return _AccountStore(self.root, self._key, extra)

    def users(self) -> list[str]:
        return TemplateStore(self.root, key=self._key).users()

    def exists(self, user: str) -> bool:
        return TemplateStore(self.root, key=self._key).exists(validate_user(user))

    def load(self, user: str) -> UserTemplates:
        return self._for(user).load(user)

    def save(self, templates: UserTemplates) -> None:
        self._for(templates.user).save(templates)

    def put_appearance(self, user: str, entry: TemplateEntry, replace_all: bool = False) -> UserTemplates:
        return self._for(user).put_appearance(user, entry, replace_all)

    def remove(self, user: str) -> bool:
        return TemplateStore(self.root, key=self._key).remove(validate_user(user))

    def path(self, user: str) -> Path:
        return TemplateStore(self.root, key=self._key).path(user)


def store_is_empty(state_dir: Path) -> bool:
    """No template file under any model folder (a key may then be minted)."""
    root = Path(state_dir) / "templates"
    return not root.is_dir() or not any(root.glob("*/*.fut"))
