"""TemplateStore: AES-256-GCM files that detect tampering, renaming, truncation and survive crashes mid-save."""

from __future__ import annotations

import contextlib
import os
import stat

import keyring
import keyring.errors
import numpy as np
import pytest

from faceunlock import secrets
from faceunlock.errors import KeyringError, StoreError
from faceunlock.store import TemplateEntry, TemplateStore, UserTemplates, validate_user

SHA_A = "a" * 64
SHA_B = "b" * 64


def entry(seed: int = 0, n: int = 3, dim: int = 8, sha: str = SHA_A, label: str = "default") -> TemplateEntry:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return TemplateEntry.create(x, backbone="vggface2", sha256=sha, label=label)


@pytest.fixture
def kr(keyring_session):
    """The shared real keyring, without a faceunlock store key before and after the test."""

    def forget() -> None:
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(secrets.SERVICE, secrets.STORE_KEY_USER)

    forget()
    yield keyring_session
    forget()


@pytest.fixture
def store(tmp_path) -> TemplateStore:
    """A store with an explicit key (no keyring needed) for the file-format tests."""
    return TemplateStore(tmp_path / "templates", key=os.urandom(32))


def test_round_trip_with_keyring_key_persists_across_instances(kr, fu_home):
    first = TemplateStore()
    assert first.root == fu_home / "data" / "templates"
    saved = UserTemplates("alice", [entry(1), entry(2, label="glasses")])
    first.save(saved)
    second = TemplateStore()  # new instance: key comes back from the keyring
    loaded = second.load("alice")
    assert loaded == saved
    assert second._key == secrets.get_or_create_store_key(create=False)


def test_files_are_private(store):
    store.save(UserTemplates("alice", [entry()]))
    path = store.path("alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700


def test_file_reveals_nothing_in_plaintext(store):
    e = entry(label="sunglasses-at-night")
    store.save(UserTemplates("alice", [e]))
    blob = store.path("alice").read_bytes()
    assert blob[:4] == b"FUT\x01"
    for needle in (b"sunglasses", b"embeddings", b"vggface2", SHA_A.encode(), b"alice"):
        assert needle not in blob


def test_each_save_uses_a_fresh_nonce(store):
    t = UserTemplates("alice", [entry()])
    store.save(t)
    a = store.path("alice").read_bytes()
    store.save(t)
    b = store.path("alice").read_bytes()
    assert a[4:16] != b[4:16]


@pytest.mark.parametrize("where", ["magic", "version", "nonce", "ciphertext", "tag"])
def test_flipped_byte_is_detected(store, where):
    store.save(UserTemplates("alice", [entry()]))
    path = store.path("alice")
    blob = bytearray(path.read_bytes())
    index = {"magic": 0, "version": 3, "nonce": 8, "ciphertext": 40, "tag": len(blob) - 1}[where]
    blob[index] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(StoreError, match="tampered") as exc:
        store.load("alice")
    assert str(path) in str(exc.value)


def test_renamed_file_is_detected(store):
    store.save(UserTemplates("alice", [entry()]))
    store.path("alice").rename(store.path("bob"))
    with pytest.raises(StoreError, match="tampered"):
        store.load("bob")


@pytest.mark.parametrize("keep", [0, 10, 4 + 12 + 15, -1])
def test_truncated_file_is_detected(store, keep):
    store.save(UserTemplates("alice", [entry()]))
    path = store.path("alice")
    blob = path.read_bytes()
    path.write_bytes(blob[:keep])
    with pytest.raises(StoreError, match="tampered with or is corrupt"):
        store.load("alice")


def test_wrong_key_is_detected(store):
    store.save(UserTemplates("alice", [entry()]))
    other = TemplateStore(store.root, key=os.urandom(32))
    with pytest.raises(StoreError, match="another key"):
        other.load("alice")


def test_missing_user_says_enrol_first(store):
    with pytest.raises(StoreError, match="no templates for carol, enrol first"):
        store.load("carol")


def test_crash_mid_save_keeps_the_old_file(store, monkeypatch):
    old = UserTemplates("alice", [entry(1)])
    store.save(old)

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        store.save(UserTemplates("alice", [entry(1), entry(2)]))
    monkeypatch.undo()
    assert store.load("alice") == old
    assert sorted(p.name for p in store.root.iterdir()) == ["alice.fut"]  # no temp file left behind


def test_put_appearance_users_exists_remove(store):
    assert store.users() == [] and not store.exists("alice")
    store.put_appearance("bob", entry(1))
    store.put_appearance("alice", entry(2))
    updated = store.put_appearance("alice", entry(3, label="glasses"))
    assert [e.label for e in updated.entries] == ["default", "glasses"]
    assert [e.label for e in store.load("alice").entries] == ["default", "glasses"]
    # the same label again replaces that appearance only (CLI, wizard and daemon share this rule)
    again = store.put_appearance("alice", entry(4, label="glasses"))
    assert [e.label for e in again.entries] == ["default", "glasses"]
    assert np.allclose(again.entries[1].embeddings, entry(4, label="glasses").embeddings)
    assert np.allclose(store.load("alice").entries[0].embeddings, entry(2).embeddings)
    # replace_all keeps only the new appearance
    only = store.put_appearance("alice", entry(5, label="beard"), replace_all=True)
    assert [e.label for e in only.entries] == ["beard"] and [e.label for e in store.load("alice").entries] == ["beard"]
    (store.root / ".alice.fut.xyz.tmp").write_bytes(b"junk")  # a leftover temp file is not a user
    (store.root / "notes.txt").write_text("x")
    assert store.users() == ["alice", "bob"]
    assert store.exists("alice")
    assert store.remove("alice") is True
    assert store.remove("alice") is False
    assert store.users() == ["bob"]


@pytest.mark.parametrize("bad", ["", ".hidden", "a/b", "../etc", "x" * 65, "a b", "é", "alice\n", None])
def test_invalid_user_names_rejected(store, bad):
    with pytest.raises(ValueError):
        validate_user(bad)
    with pytest.raises(ValueError):
        store.path(bad)


def test_valid_user_names(store):
    for name in ("alice", "Alice.Smith-2_x", "x" * 64, "a."):
        assert validate_user(name) == name


def test_embeddings_for_only_returns_that_models_templates():
    t = UserTemplates("alice", [entry(1, n=2, sha=SHA_A), entry(2, n=3, sha=SHA_B), entry(3, n=1, sha=SHA_A)])
    a = t.embeddings_for(SHA_A)
    assert a.shape == (3, 8) and a.dtype == np.float32
    np.testing.assert_allclose(a[:2], np.asarray(t.entries[0].embeddings, dtype=np.float32))
    assert t.embeddings_for(SHA_B).shape == (3, 8)
    assert t.has_model(SHA_B) and not t.has_model("c" * 64)
    with pytest.raises(StoreError, match="Enrol again"):
        t.embeddings_for("c" * 64)


def test_entry_validation():
    with pytest.raises(ValueError):
        TemplateEntry.create(np.zeros((0, 8)), "vggface2", SHA_A)
    with pytest.raises(ValueError):
        TemplateEntry.create(np.full((1, 8), np.nan), "vggface2", SHA_A)
    with pytest.raises(ValueError):
        TemplateEntry.create(np.ones((1, 8)), "vggface2", "")


def test_key_must_be_32_bytes(tmp_path):
    with pytest.raises(ValueError):
        TemplateStore(tmp_path, key=b"short")


def test_reset_keyring_with_existing_templates_is_reported_not_papered_over(kr, fu_home):
    TemplateStore().save(UserTemplates("alice", [entry()]))
    keyring.delete_password(secrets.SERVICE, secrets.STORE_KEY_USER)  # e.g. the user wiped the keyring
    with pytest.raises(KeyringError, match="missing"):
        TemplateStore().load("alice")
    assert keyring.get_password(secrets.SERVICE, secrets.STORE_KEY_USER) is None  # no new key minted
