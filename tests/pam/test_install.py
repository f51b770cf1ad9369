"""`faceunlock system install|uninstall|status` on a temporary root holding copies of this machine's /etc/pam.d,
/usr/share/pam-configs and /var/lib/pam, with the real pam-auth-update (its --root): dry runs change nothing,
install puts the face in common-auth for the chosen services, uninstall gives every byte back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pam.pamhelp import MODULE, REPO, need_root_and_tools

COPIED = ("etc/pam.d", "usr/share/pam-configs", "var/lib/pam")


def tree(root: Path) -> dict[str, tuple]:
    """Every entry under root: type, mode, owner and (files) content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else ""
            out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, digest)
    return out


def debconf_state() -> dict[str, str]:
    d = Path("/var/cache/debconf")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.glob("*.dat"))} if d.is_dir() else {}


@pytest.fixture
def fake_root(tmp_path: Path, pam_module) -> Iterator[Path]:
    if not os.access("/usr/sbin/pam-auth-update", os.X_OK):
        pytest.skip("needs Debian's pam-auth-update (libpam-runtime)")
    root = tmp_path / "root"
    for rel in COPIED:
        if Path("/" + rel).is_dir():
            shutil.copytree("/" + rel, root / rel, symlinks=True)
    # Services this test machine may lack: sudo and a login manager, as Debian ships their auth sections.
    for name in ("sudo", "gdm-password"):
        if not (root / "etc/pam.d" / name).exists():
            (root / "etc/pam.d" / name).write_text(f"# {name} (test copy)\n@include common-auth\n")
    yield root


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "faceunlock", "system", *args], capture_output=True, text=True,
                       env=env, cwd=REPO, timeout=300)  # fmt: skip
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_dry_run_changes_nothing_and_shows_every_change(fake_root):
    need_root_and_tools()
    before, conf = tree(fake_root), debconf_state()
    r = cli("install", "--root", str(fake_root), "--systemd", "yes", "--dry-run")
    assert tree(fake_root) == before and debconf_state() == conf
    out = r.stdout
    assert "would write /usr/share/pam-configs/faceunlock" in out
    assert "would write /etc/systemd/system/faceunlockd.service" in out
    assert "pam_faceunlock.so (" in out and "/security/pam_faceunlock.so" in out
    assert "would change /etc/pam.d/common-auth" in out
    assert "+auth\t[success=2 default=ignore]\tpam_faceunlock.so socket=/run/faceunlock/faceunlockd.sock" in out
    assert "nothing was changed" in out
    assert cli("uninstall", "--root", str(fake_root), "--dry-run").returncode == 0
    assert tree(fake_root) == before


def test_install_then_uninstall_leaves_the_root_byte_for_byte(fake_root):
    need_root_and_tools()
    before, conf = tree(fake_root), debconf_state()
    host_common_auth = Path("/etc/pam.d/common-auth").read_bytes()
    cli("install", "--root", str(fake_root), "--systemd", "yes")
    common = (fake_root / "etc/pam.d/common-auth").read_text()
    line = next(x for x in common.splitlines() if "pam_faceunlock.so" in x)
    # sufficient, never required; before pam_unix; login managers not in the list
    assert line.startswith("auth\t[success=") and "default=ignore]" in line
    assert common.index("pam_faceunlock.so") < common.index("pam_unix.so")
    services = line.split("services=")[1].split()[0].split(",")
    assert "sudo" in services and "polkit-1" in services and "swaylock" in services
    assert not {"gdm-password", "sddm", "lightdm", "login", "sshd"} & set(services)
    installed = list(fake_root.glob("**/security/pam_faceunlock.so"))
    assert len(installed) == 1 and installed[0].read_bytes() == MODULE.read_bytes()
    assert oct(installed[0].stat().st_mode & 0o777) == "0o644"
    assert (fake_root / "etc/pam.d/faceunlock").is_file()  # the daemon's own password check
    assert (fake_root / "var/lib/faceunlock").stat().st_mode & 0o777 == 0o700
    unit = (fake_root / "etc/systemd/system/faceunlockd.service").read_text()
    assert "-m faceunlock daemon --socket /run/faceunlock/faceunlockd.sock" in unit and "@" not in unit

    st = json.loads(cli("status", "--root", str(fake_root), "--json").stdout)
    assert st["installed"] and st["module"] and st["profile"]
    assert st["pam_services"]["sudo"].startswith("face on (via common-auth")
    assert st["pam_services"]["gdm-password"].startswith("face off")
    assert st["daemon"]["answers"] is False or "listening" in st["daemon"]["detail"]

    installed_tree = tree(fake_root)
    r = cli("uninstall", "--root", str(fake_root), "--dry-run")
    assert tree(fake_root) == installed_tree and "would run   pam-auth-update --package --remove faceunlock" in r.stdout
    cli("uninstall", "--root", str(fake_root))
    after = tree(fake_root)
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                             if before.get(k) != after.get(k)}  # fmt: skip
    assert debconf_state() == conf  # pam-auth-update --root ran with its own debconf answers
    assert Path("/etc/pam.d/common-auth").read_bytes() == host_common_auth


def test_switching_a_login_manager_on_warns_and_still_uninstalls_cleanly(fake_root):
    need_root_and_tools()
    before = tree(fake_root)
    cli("install", "--root", str(fake_root), "--systemd", "no")
    r = cli("install", "--root", str(fake_root), "--systemd", "no", "--enable", "gdm-password", "--disable", "sudo")
    assert "login keyring locked" in r.stdout
    line = next(x for x in (fake_root / "etc/pam.d/common-auth").read_text().splitlines() if "pam_faceunlock" in x)
    services = line.split("services=")[1].split()[0].split(",")
    assert "gdm-password" in services and "sudo" not in services
    st = json.loads(cli("status", "--root", str(fake_root), "--json").stdout)
    assert st["pam_services"]["gdm-password"].startswith("face on")
    assert st["pam_services"]["sudo"].startswith("face off")
    r = cli("install", "--root", str(fake_root), "--enable", "sshd", check=False)
    assert r.returncode == 2 and "sshd" in r.stderr
    cli("uninstall", "--root", str(fake_root))
    assert tree(fake_root) == before


def test_uninstall_keeps_enrolled_faces_unless_purged(fake_root):
    need_root_and_tools()
    before = tree(fake_root)
    cli("install", "--root", str(fake_root), "--systemd", "no")
    faces = fake_root / "var/lib/faceunlock/templates/x.bin"
    faces.parent.mkdir()
    faces.write_bytes(b"enrolled")
    r = cli("uninstall", "--root", str(fake_root))
    assert faces.read_bytes() == b"enrolled" and "--purge" in r.stdout
    assert (fake_root / "etc/pam.d/common-auth").read_bytes() == (Path("/etc/pam.d/common-auth").read_bytes()
                                                                  if (Path("/etc/pam.d/common-auth")).exists() else b"")  # fmt: skip
    leftovers = set(tree(fake_root)) - set(before)
    assert leftovers == {"var", "var/lib/faceunlock", "var/lib/faceunlock/templates", "var/lib/faceunlock/templates/x.bin"} - set(before)  # fmt: skip

    cli("install", "--root", str(fake_root), "--systemd", "no")
    cli("uninstall", "--root", str(fake_root), "--purge")
    after = tree(fake_root)
    assert not (fake_root / "var/lib/faceunlock").exists()
    assert {k: v for k, v in after.items() if not k.startswith("var/lib/faceunlock")} == before


def test_a_pam_file_edited_after_install_keeps_the_edit_and_the_module(fake_root):
    """An admin edits common-auth after install: pam-auth-update then refuses to touch it; uninstall must not
    clobber the edit, nor delete a module a PAM stack still names."""
    need_root_and_tools()
    cli("install", "--root", str(fake_root), "--systemd", "no")
    ca = fake_root / "etc/pam.d/common-auth"
    ca.write_text(ca.read_text() + "# local note by the admin\n")
    r = cli("uninstall", "--root", str(fake_root))
    text = ca.read_text()
    assert "# local note by the admin" in text
    if "pam_faceunlock.so" in text:
        assert list(fake_root.glob("**/security/pam_faceunlock.so")), "module removed while PAM still names it"
        assert "remove the pam_faceunlock.so line there" in r.stdout


def test_without_pam_auth_update_it_prints_the_lines_and_touches_no_pam_file(fake_root):
    """Fedora, Arch …: no pam-configs folder → the exact line for each service is printed, PAM is left alone."""
    need_root_and_tools()
    shutil.rmtree(fake_root / "usr/share/pam-configs")
    shutil.rmtree(fake_root / "var/lib/pam", ignore_errors=True)
    before = tree(fake_root)
    pam_before = {k: v for k, v in before.items() if k.startswith("etc/pam.d/") and k != "etc/pam.d/faceunlock"}
    r = cli("install", "--root", str(fake_root), "--systemd", "no")
    assert "auth  sufficient  pam_faceunlock.so socket=/run/faceunlock/faceunlockd.sock timeout=3 services=sudo," in r.stdout
    assert "sudo" in r.stdout and "polkit-1" in r.stdout
    now = tree(fake_root)
    assert {k: v for k, v in now.items() if k.startswith("etc/pam.d/") and k != "etc/pam.d/faceunlock"} == pam_before
    assert not (fake_root / "usr/share/pam-configs").exists()
    cli("uninstall", "--root", str(fake_root))
    assert tree(fake_root) == before
