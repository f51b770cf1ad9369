"""`faceunlock system install|uninstall|status`: put the PAM module, its profile and the daemon in place, and take
them out again leaving PAM byte-for-byte as it was (docs/decisions/012-pam.md).

Why a manifest with backups: pam-auth-update regenerates /etc/pam.d/common-* and /var/lib/pam/*; its --remove
usually gives back the same bytes, but "usually" is not what an uninstall of an authentication change may rely on.
Install records every file it creates (with its hash) and every file it changes (original bytes kept in a
root-only folder); uninstall removes what is still as install left it and restores the originals.

Why `services=` on the module line: the profile goes into common-auth, which login managers and `login` include
too; the module offers the face only to the listed services (sudo, polkit, screen lockers by default) because a
face login leaves the login keyring locked.

Every path is taken under `root` (default /), so tests install into a temporary copy of /etc/pam.d.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from faceunlock.atomic import write_atomic
from faceunlock.errors import FaceUnlockError

REPO = Path(__file__).resolve().parents[2]
MODULE_NAME = "pam_faceunlock.so"
BUILT_MODULE = REPO / "build" / MODULE_NAME
PROFILE_NAME = "faceunlock"
PROFILE_PATH = "usr/share/pam-configs/faceunlock"
DAEMON_PAM_SERVICE = "etc/pam.d/faceunlock"  # the daemon's own password check (pam_unix only, see service/)
DAEMON_PAM_SOURCE = REPO / "faceunlock" / "service" / "pam.d" / "faceunlock"
UNIT_PATH = "etc/systemd/system/faceunlockd.service"
UNIT_TEMPLATE = REPO / "assets" / "faceunlockd.service"
STATE_DIR = "var/lib/faceunlock"
KEY_DIR = "etc/faceunlock"
MANIFEST_DIR = "var/lib/faceunlock-system"  # root-only, apart from the daemon's state: it decides what PAM gets back
SOCKET = "/run/faceunlock/faceunlockd.sock"
PAM_AUTH_UPDATE = "/usr/sbin/pam-auth-update"
PAM_TRACKED = ("etc/pam.d", "var/lib/pam")  # what pam-auth-update may rewrite

# Face on by default: sudo, polkit, screen lockers. GNOME's lock screen shares gdm-password with the GDM login,
# so it is with the login managers: off unless asked for.
DEFAULT_SERVICES = ("sudo", "sudo-i", "polkit-1", "kde", "swaylock", "i3lock", "xsecurelock", "xscreensaver",
                    "cinnamon-screensaver", "mate-screensaver", "xfce4-screensaver", "gnome-screensaver",
                    "hyprlock")  # fmt: skip
LOGIN_MANAGERS = ("gdm-password", "gdm-autologin", "sddm", "lightdm", "login")
NEVER = ("sshd",)  # remote: the camera belongs to whoever sits at the machine
KEYRING_WARNING = ("a face login leaves the login keyring locked (it is unlocked by the password typed at login): "
                   "apps will ask for the keyring password after a face login")  # fmt: skip


class InstallError(FaceUnlockError):
    """Bad request or a state install/uninstall cannot safely act on (the CLI exits 2 with the message)."""


@dataclass
class Options:
    root: Path = Path("/")
    services: tuple[str, ...] = DEFAULT_SERVICES
    socket: str = SOCKET
    timeout: float = 3.0
    systemd: bool | None = None  # None: when /run/systemd/system exists (and root is /)
    source: str = "0"
    python: str = field(default_factory=lambda: os.path.abspath(sys.executable))
    module: Path = BUILT_MODULE
    dry_run: bool = False

    def path(self, rel: str) -> Path:
        return Path(self.root) / rel.lstrip("/")


def choose_services(enable: list[str] | None, disable: list[str] | None) -> tuple[tuple[str, ...], list[str]]:
    """Default services ± the user's switches; returns them and the warnings to print (login managers)."""
    chosen = list(DEFAULT_SERVICES)
    warnings = []
    for s in enable or []:
        if not s or any(c in s for c in ",/ \t\n") or s in NEVER:
            raise InstallError(f"cannot offer the face to PAM service {s!r}")
        if s not in chosen:
            chosen.append(s)
        if s in LOGIN_MANAGERS:
            warnings.append(f"face enabled for {s}: {KEYRING_WARNING}")
    for s in disable or []:
        if s in chosen:
            chosen.remove(s)
    if not chosen:
        raise InstallError("no PAM service left to offer the face to: use uninstall instead")
    return tuple(chosen), warnings


def pam_module_dir(root: Path) -> Path:
    """Where pam_unix.so lives (under root, else on this host mapped under root): Debian multiarch, Fedora, Arch."""
    candidates = ["lib/x86_64-linux-gnu/security", "usr/lib/x86_64-linux-gnu/security", "lib/aarch64-linux-gnu/security",
                  "usr/lib/aarch64-linux-gnu/security", "usr/lib64/security", "lib64/security", "usr/lib/security",
                  "lib/security"]  # fmt: skip
    for base in (Path(root), Path("/")):
        for rel in candidates:
            if (base / rel / "pam_unix.so").exists():
                return Path(root) / rel
    raise InstallError("cannot find the PAM module folder (no pam_unix.so in the usual places)")


def module_args(opts: Options) -> str:
    return f"socket={opts.socket} timeout={opts.timeout:g} services={','.join(opts.services)}"


def profile_text(opts: Options) -> str:
    # Primary, above pam_unix (256): the face is tried first; [success=end default=ignore] makes it sufficient and
    # never required: any other result goes on to the password.
    return ("Name: Face unlock (faceunlock daemon; falls back to the password)\n"
            "Default: yes\n"
            "Priority: 260\n"
            "Auth-Type: Primary\n"
            "Auth:\n"
            f"\t[success=end default=ignore]\t{MODULE_NAME} {module_args(opts)}\n")  # fmt: skip


def unit_text(opts: Options) -> str:
    text = UNIT_TEMPLATE.read_text(encoding="utf-8")
    return (text.replace("@PYTHON@", opts.python).replace("@SOCKET@", opts.socket)
            .replace("@STATE_DIR@", "/" + STATE_DIR).replace("@SOURCE@", opts.source))  # fmt: skip


def daemon_command(opts: Options) -> str:
    return f"{opts.python} -m faceunlock daemon --socket {opts.socket} --state-dir /{STATE_DIR} --source {opts.source}"


def manual_lines(opts: Options) -> str:
    return f"auth  sufficient  {MODULE_NAME} {module_args(opts)}"


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _read(p: Path) -> bytes | None:
    try:
        return p.read_bytes()
    except FileNotFoundError:
        return None


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Contents and modes of the files pam-auth-update may rewrite."""
    out = {}
    for rel in PAM_TRACKED:
        d = Path(root) / rel
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if p.is_file() and not p.is_symlink():
                out[str(p.relative_to(root))] = (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
    return out


def _has_pam_auth_update(root: Path) -> bool:
    return os.access(PAM_AUTH_UPDATE, os.X_OK) and (Path(root) / "usr/share/pam-configs").is_dir()


def _run_pam_auth_update(root: Path, *args: str) -> None:
    cmd = [PAM_AUTH_UPDATE, *(["--root", str(root)] if Path(root) != Path("/") else []), "--package", *args]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with tempfile.TemporaryDirectory(prefix="faceunlock-debconf-") as tmp:
        if Path(root) != Path("/"):
            # A temporary root must not touch this host's debconf databases (pam-auth-update stores its profile
            # choice there and rewrites both files): a private debconf.conf with its own two files.
            Path(tmp, "debconf.conf").write_text(
                "Config: config\nTemplates: templates\n\n"
                f"Name: config\nDriver: File\nFilename: {tmp}/config.dat\n\n"
                f"Name: templates\nDriver: File\nMode: 644\nFilename: {tmp}/templates.dat\n", encoding="utf-8")
            env["DEBCONF_SYSTEMRC"] = f"{tmp}/debconf.conf"
            env.pop("DEBCONF_DB_OVERRIDE", None)
            env.pop("DEBCONF_DB_REPLACE", None)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise InstallError(f"{' '.join(cmd)} failed ({r.returncode}): {(r.stderr or r.stdout).strip()}")


def systemd_running(opts: Options) -> bool:
    if opts.systemd is not None:
        return opts.systemd
    return Path(opts.root) == Path("/") and Path("/run/systemd/system").is_dir()


def _pam_preview(opts: Options, profile: str) -> dict[str, tuple[bytes | None, bytes | None]]:
    """What pam-auth-update would change, found by running it on a scratch copy (path → (before, after))."""
    with tempfile.TemporaryDirectory(prefix="faceunlock-preview-") as tmp:
        scratch = Path(tmp)
        for rel in (*PAM_TRACKED, "usr/share/pam-configs"):
            src = Path(opts.root) / rel
            if src.is_dir():
                shutil.copytree(src, scratch / rel, symlinks=True)
        (scratch / PROFILE_PATH).parent.mkdir(parents=True, exist_ok=True)
        (scratch / PROFILE_PATH).write_text(profile, encoding="utf-8")
        before = _snapshot(scratch)
        _run_pam_auth_update(scratch)
        after = _snapshot(scratch)
    changed = {}
    for rel in sorted(set(before) | set(after)):
        b, a = before.get(rel, (None, 0))[0], after.get(rel, (None, 0))[0]
        if b != a:
            changed[rel] = (b, a)
    return changed


def _diff(rel: str, before: bytes | None, after: bytes | None) -> str:
    a = (before or b"").decode("utf-8", "replace").splitlines(keepends=True)
    b = (after or b"").decode("utf-8", "replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, f"/{rel} (now)", f"/{rel} (after install)"))


@dataclass
class Manifest:
    """What install did, so uninstall can undo exactly that (JSON in MANIFEST_DIR, backups beside it)."""

    created_files: dict[str, str] = field(default_factory=dict)  # rel path → sha256 as written
    created_dirs: list[str] = field(default_factory=list)
    changed_files: dict[str, dict] = field(default_factory=dict)  # rel → {before_sha, after_sha, mode, backup}
    pam_auth_update: bool = False
    systemd_unit: bool = False
    services: list[str] = field(default_factory=list)

    @staticmethod
    def load(root: Path) -> Manifest | None:
        p = Path(root) / MANIFEST_DIR / "manifest.json"
        if not p.exists():
            return None
        try:
            return Manifest(**json.loads(p.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as e:
            raise InstallError(f"{p}: unreadable install manifest ({e}); uninstall by hand (see README)") from e

    def save(self, root: Path) -> None:
        write_atomic(Path(root) / MANIFEST_DIR / "manifest.json",
                     json.dumps(self.__dict__, indent=2, sort_keys=True).encode(), 0o600)  # fmt: skip


def _mkdir(opts: Options, rel: str, mode: int, man: Manifest, log: list[str]) -> None:
    p = opts.path(rel)
    missing = [q for q in [p, *p.parents] if not q.exists() and Path(opts.root) in q.parents]
    for q in reversed(missing):
        log.append(f"create folder /{q.relative_to(opts.root)} (mode {mode:o})")
        if not opts.dry_run:
            q.mkdir(mode=mode)
            os.chmod(q, mode)
            man.created_dirs.append(str(q.relative_to(opts.root)))


def _write(opts: Options, rel: str, data: bytes, mode: int, man: Manifest, log: list[str]) -> None:
    p = opts.path(rel)
    old = _read(p)
    if old == data:
        log.append(f"keep  /{rel} (already as it should be)")
        return
    if old is not None and rel not in man.created_files and rel not in man.changed_files:
        log.append(f"change /{rel} ({len(old)} → {len(data)} bytes; the original is kept for uninstall)")
        if not opts.dry_run:
            backup = f"{MANIFEST_DIR}/backup/{rel}"
            write_atomic(opts.path(backup), old, 0o600)
            man.changed_files[rel] = {"before_sha": _sha(old), "mode": stat.S_IMODE(p.stat().st_mode), "backup": backup}
    else:
        log.append(f"write /{rel} ({len(data)} bytes, mode {mode:o})")
    if opts.dry_run:
        return
    _mkdir(opts, str(Path(rel).parent), 0o755, man, log)
    write_atomic(p, data, mode)
    if rel in man.changed_files:
        man.changed_files[rel]["after_sha"] = _sha(data)
    else:
        man.created_files[rel] = _sha(data)


def install(opts: Options) -> list[str]:
    """Install (or update) everything; returns what was done (or, with dry_run, what would be), line by line."""
    if not opts.dry_run and Path(opts.root) == Path("/") and os.geteuid() != 0:
        raise InstallError("system install changes PAM and needs root: run it with sudo (or --dry-run to look)")
    if not opts.module.is_file():
        raise InstallError(f"{opts.module}: the PAM module is not built; run scripts/setup.sh (or make -C pam)")
    log: list[str] = []
    man = Manifest.load(opts.root) or Manifest()
    man.services = list(opts.services)
    if not opts.dry_run:
        _mkdir(opts, MANIFEST_DIR, 0o700, man, log)
    _mkdir(opts, STATE_DIR, 0o700, man, log)
    _mkdir(opts, KEY_DIR, 0o700, man, log)  # the daemon mints its store key here, apart from the state
    if not opts.dry_run:
        man.save(opts.root)  # from here on, uninstall knows what to undo even if we stop half-way
    moddir = pam_module_dir(opts.root)
    mod_rel = str((moddir / MODULE_NAME).relative_to(opts.root))
    _write(opts, mod_rel, opts.module.read_bytes(), 0o644, man, log)
    if DAEMON_PAM_SOURCE.is_file():
        _write(opts, DAEMON_PAM_SERVICE, DAEMON_PAM_SOURCE.read_bytes(), 0o644, man, log)
    if systemd_running(opts):
        _write(opts, UNIT_PATH, unit_text(opts).encode(), 0o644, man, log)
        man.systemd_unit = True
    profile = profile_text(opts)
    if _has_pam_auth_update(opts.root):
        if opts.dry_run:
            for rel, (before, after) in _pam_preview(opts, profile).items():
                log.append(f"change /{rel} (by pam-auth-update --package)\n{_diff(rel, before, after)}".rstrip())
            log.append(f"write /{PROFILE_PATH} ({len(profile.encode())} bytes, mode 644)")
            log.append("run   pam-auth-update --package")
        else:
            before = _snapshot(opts.root)
            _write(opts, PROFILE_PATH, profile.encode(), 0o644, man, log)
            man.save(opts.root)
            try:
                _run_pam_auth_update(opts.root)
            except InstallError:
                if man.created_files.get(PROFILE_PATH) and not man.pam_auth_update:
                    opts.path(PROFILE_PATH).unlink(missing_ok=True)  # a profile PAM never took must not linger
                    del man.created_files[PROFILE_PATH]
                    man.save(opts.root)
                raise
            man.pam_auth_update = True
            after = _snapshot(opts.root)
            for rel in sorted(set(before) | set(after)):
                b, a = before.get(rel), after.get(rel)
                if (b and b[0]) == (a and a[0]):
                    continue
                if rel not in man.changed_files and rel not in man.created_files:
                    if b is None:
                        man.created_files[rel] = "pam-auth-update"  # did not exist before: goes on uninstall
                    else:
                        backup = f"{MANIFEST_DIR}/backup/{rel}"
                        write_atomic(opts.path(backup), b[0], 0o600)
                        man.changed_files[rel] = {"before_sha": _sha(b[0]), "mode": b[1], "backup": backup}
                entry = man.changed_files.get(rel)
                if entry is not None:
                    entry["after_sha"] = _sha(a[0]) if a else None
                elif a is not None:
                    man.created_files[rel] = _sha(a[0])
                log.append(f"changed /{rel} (pam-auth-update; the original is kept for uninstall)")
            log.append("ran   pam-auth-update --package")
    else:
        log.append("no pam-auth-update here: add this line first in the auth section of /etc/pam.d/<service> for "
                   f"each of {', '.join(opts.services)}:\n    {manual_lines(opts)}")  # fmt: skip
    if not opts.dry_run:
        man.save(opts.root)
    if systemd_running(opts) and Path(opts.root) == Path("/"):
        cmds = [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "faceunlockd.service"]]
        for c in cmds:
            log.append(f"run   {' '.join(c)}")
            if not opts.dry_run:
                subprocess.run(c, check=False)
    else:
        log.append(f"start the daemon (no systemd here), as root, e.g. from /etc/rc.local:\n    {daemon_command(opts)} &")
    return log


def uninstall(opts: Options, purge: bool = False) -> list[str]:
    """Undo what install recorded; restore the PAM files it changed byte for byte. Enrolments stay unless purge."""
    if not opts.dry_run and Path(opts.root) == Path("/") and os.geteuid() != 0:
        raise InstallError("system uninstall changes PAM and needs root: run it with sudo")
    man = Manifest.load(opts.root)
    if man is None:
        return [f"nothing to undo: no install manifest at /{MANIFEST_DIR}/manifest.json"]
    log: list[str] = []
    if man.systemd_unit and Path(opts.root) == Path("/") and shutil.which("systemctl"):
        log.append("run   systemctl disable --now faceunlockd.service")
        if not opts.dry_run:
            subprocess.run(["systemctl", "disable", "--now", "faceunlockd.service"], check=False)
    # What the files look like now, before pam-auth-update --remove rewrites them: a file still as install left
    # it gets its original bytes back; one someone changed since keeps pam-auth-update's result (their change
    # stays) and its original stays in the backup folder.
    untouched = {rel for rel, e in man.changed_files.items() if _sha(_read(opts.path(rel))) == e.get("after_sha")}
    if man.pam_auth_update and _has_pam_auth_update(opts.root) and opts.path(PROFILE_PATH).exists():
        log.append(f"run   pam-auth-update --package --remove {PROFILE_NAME}")
        if not opts.dry_run:
            _run_pam_auth_update(opts.root, "--remove", PROFILE_NAME)
    kept_backups = False
    for rel, entry in sorted(man.changed_files.items()):
        p = opts.path(rel)
        original = opts.path(entry["backup"]).read_bytes()
        if _read(p) == original:
            log.append(f"ok    /{rel} is as it was before install")
            if not opts.dry_run:
                os.chmod(p, entry["mode"])
        elif rel in untouched:
            log.append(f"restore /{rel} (the bytes it had before install)")
            if not opts.dry_run:
                write_atomic(p, original, entry["mode"])
        else:
            kept_backups = True
            log.append(f"leave /{rel}: changed since install; its original is in /{entry['backup']}")
    still_used = [] if opts.dry_run else _files_naming_module(opts.root)
    for rel, sha in sorted(man.created_files.items(), key=lambda kv: kv[0], reverse=True):
        p = opts.path(rel)
        if rel.endswith("/" + MODULE_NAME) and still_used:
            # A stack naming a module that is gone may fail as a whole: keep it until those lines are removed.
            kept_backups = True
            log.append(f"leave /{rel}: still named in {', '.join('/' + u for u in still_used)} (changed since "
                       f"install); remove the {MODULE_NAME} line there, then run uninstall again")  # fmt: skip
            continue
        if rel == PROFILE_PATH or sha == "pam-auth-update" or _sha(_read(p)) == sha:
            if p.exists():
                log.append(f"remove /{rel}")
                if not opts.dry_run:
                    p.unlink()
        elif p.exists():
            log.append(f"leave /{rel}: changed since install")
    if purge:
        for rel in (STATE_DIR, KEY_DIR):
            if opts.path(rel).exists():
                log.append(f"remove /{rel} and everything in it (--purge: the enrolled faces and their key)")
                if not opts.dry_run:
                    shutil.rmtree(opts.path(rel))
    for rel in sorted(man.created_dirs, key=len, reverse=True):
        p = opts.path(rel)
        if rel == MANIFEST_DIR or not p.is_dir():
            continue
        if any(p.iterdir()):
            ours = rel in (STATE_DIR, KEY_DIR)
            log.append(f"leave /{rel}: not empty" + (" (enrolled faces or their key; --purge removes them)" if ours else ""))
            continue
        log.append(f"remove folder /{rel}")
        if not opts.dry_run:
            p.rmdir()
    if not kept_backups:
        log.append(f"remove /{MANIFEST_DIR} (manifest and backups)")
        if not opts.dry_run:
            shutil.rmtree(opts.path(MANIFEST_DIR))
    return log


def _files_naming_module(root: Path) -> list[str]:
    pamd = Path(root) / "etc/pam.d"
    out = []
    for p in sorted(pamd.iterdir()) if pamd.is_dir() else []:
        if p.is_file() and any(MODULE_NAME in line.split("#", 1)[0] for line in p.read_text(errors="replace").splitlines()):
            out.append(str(p.relative_to(root)))
    return out


def _services_using_module(root: Path) -> dict[str, str]:
    """PAM service → how it reaches pam_faceunlock.so (directly, or through an included file such as common-auth)."""
    pamd = Path(root) / "etc/pam.d"
    if not pamd.is_dir():
        return {}
    texts = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in pamd.iterdir() if p.is_file()}

    def reaches(name: str, seen: set[str]) -> str | None:
        if name in seen or name not in texts:
            return None
        seen.add(name)
        for line in texts[name].splitlines():
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if words[0].lstrip("-") == "auth" and any(w.endswith(MODULE_NAME) for w in words):
                return "directly"
            inc = None
            if words[0] == "@include" and len(words) > 1:
                inc = words[1]
            elif words[0].lstrip("-") == "auth" and len(words) > 2 and words[1] in ("include", "substack"):
                inc = words[2]
            if inc and reaches(inc, seen):
                return f"via {inc}"
        return None

    out = {}
    for name in sorted(texts):
        how = reaches(name, set())
        if how and not name.startswith("common-"):
            out[name] = how
    return out


def _module_services_arg(root: Path) -> list[str] | None:
    p = Path(root) / PROFILE_PATH
    text = _read(p)
    if text is None:
        return None
    for word in text.decode("utf-8", "replace").split():
        if word.startswith("services="):
            return word[len("services="):].split(",")
    return None


def daemon_answers(path: str) -> tuple[bool, str]:
    """Whether root's daemon answers on the socket: SO_PEERCRED first (as the module checks), then STATUS (which
    starts no face attempt)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False, f"no socket at {path}"
    if not stat.S_ISSOCK(st.st_mode):
        return False, f"{path} is not a socket"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        import struct

        _pid, uid, _gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    except OSError as e:
        return False, f"{path}: {e.strerror or e}"
    finally:
        s.close()
    if uid != 0:
        return False, f"{path} is served by uid {uid}, not root: the module will not trust it"
    from faceunlock.daemon_client import DaemonClient, DaemonError

    try:
        reply = DaemonClient(path, timeout=3.0).status()
    except (DaemonError, OSError) as e:
        return False, f"{path} (root) accepts connections but did not answer STATUS: {e}"
    return reply.word == "OK", f"{path} (root): {reply.word} {reply.text}"


def status(opts: Options) -> dict:
    try:
        installed = Manifest.load(opts.root) is not None
    except PermissionError:  # the manifest folder is root's: a user sees what PAM sees
        installed = opts.path(PROFILE_PATH).exists()
    try:
        mod = pam_module_dir(opts.root) / MODULE_NAME
    except InstallError:
        mod = None
    allowed = _module_services_arg(opts.root)
    using = _services_using_module(opts.root)
    ok, why = daemon_answers(opts.socket)
    services = {}
    for name, how in using.items():
        on = allowed is None or name in allowed
        services[name] = f"face {'on' if on else 'off'} ({how}" + ("" if on else "; not in services=") + ")"
    return {
        "installed": installed,
        "module": str(mod) if mod and mod.exists() else None,
        "profile": str(opts.path(PROFILE_PATH)) if opts.path(PROFILE_PATH).exists() else None,
        "systemd_unit": str(opts.path(UNIT_PATH)) if opts.path(UNIT_PATH).exists() else None,
        "daemon": {"answers": ok, "detail": why},
        "services_offered": allowed,
        "pam_services": services,
    }
