"""PAM authentication latency: the warm daemon behind pam_faceunlock.so against a cold `faceunlock verify`.

What a user waits for at `sudo`: pamtester → libpam → pam_faceunlock.so → faceunlockd (model already loaded) →
the attempt on real.mov from frame 0 → PAM_SUCCESS. Beside it, what the same attempt costs without a daemon: a fresh
`faceunlock verify` process (imports, model load, keyring, the same frames from 0). Both users are enrolled from
frames 120-198 of real.mov, so the attempt frames were never enrolled. Prints median and p95 of each and the ratio
of the medians.

Needs root (a throwaway account, a PAM service file under /etc/pam.d, both removed at the end), pamtester, a
built module (make -C pam), gnome-keyring + dbus for the cold CLI (a private one, as the tests use).

    sudo .venv/bin/python benchmarks/pam_latency.py                 # 10 warm PAM runs, 3 cold verifies
    sudo .venv/bin/python benchmarks/pam_latency.py --runs 20 --cold-runs 5 --json out/pam_latency.json

Run it on an otherwise idle machine: both sides are CPU-bound and share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with 10 runs, p95 is the slowest)."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]


def summary(values: list[float]) -> dict:
    return {"runs": len(values), "median_s": statistics.median(values), "p95_s": pct(values, 95),
            "min_s": min(values), "max_s": max(values), "all_s": values}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="warm PAM authentications to time (default 10)")
    ap.add_argument("--cold-runs", type=int, default=3, help="cold `faceunlock verify` processes (default 3)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for the daemon and the CLI (FACEUNLOCK_THREADS; default: the product's policy)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("pam_latency: needs root (a throwaway account and /etc/pam.d/faceunlock-bench-*)", file=sys.stderr)
        return 2
    from tests.shared_data import REAL_MOV

    if not REAL_MOV.is_file():
        print(f"pam_latency: {REAL_MOV} is missing (shared data)", file=sys.stderr)
        return 2
    if subprocess.run(["make", "-s", "-C", str(REPO / "pam")]).returncode != 0:
        return 2
    module = REPO / "build" / "pam_faceunlock.so"
    threads = {"FACEUNLOCK_THREADS": str(args.threads)} if args.threads else {}
    env = dict(os.environ, **threads)
    env = {k: v for k, v in env.items() if not k.startswith("SSH_")}

    user = f"fubench-{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="fu-bench-"))
    work.chmod(0o755)
    service = Path("/etc/pam.d") / f"faceunlock-bench-{secrets.token_hex(4)}"
    daemon = None
    result: dict = {"source": str(REAL_MOV), "threads": args.threads}
    try:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", user], check=True)
        sock = work / "d.sock"
        t0 = time.monotonic()
        daemon = subprocess.Popen([sys.executable, "-m", "faceunlock", "daemon", "--socket", str(sock), "--state-dir",
                                   str(work / "state"), "--source", str(REAL_MOV)], env=env, cwd=REPO,
                                  stdout=(work / "daemon.log").open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
        while not sock.exists():
            if daemon.poll() is not None:
                print((work / "daemon.log").read_text(), file=sys.stderr)
                return 2
            time.sleep(0.05)
        result["daemon_start_s"] = time.monotonic() - t0
        from faceunlock.daemon_client import DaemonClient

        r = DaemonClient(sock, timeout=600).enroll(user, skip=120, limit=79)
        if not r.ok:
            print(f"pam_latency: enrolment through the daemon failed: {r.word} {r.text}", file=sys.stderr)
            return 2
        service.write_text(f"auth sufficient {module} socket={sock} timeout=60\nauth required pam_deny.so\n")
        cmd = ["pamtester", service.name, user, "authenticate"]
        subprocess.run(cmd, env=env, capture_output=True, stdin=subprocess.DEVNULL)  # warm-up: first-call caches
        warm = []
        for _ in range(args.runs):
            t = time.monotonic()
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            warm.append(time.monotonic() - t)
            if p.returncode != 0:
                print(f"pam_latency: a warm PAM authentication failed: {p.stdout}{p.stderr}", file=sys.stderr)
                return 2
        result["warm_pam"] = summary(warm)
        daemon.terminate()
        daemon.wait(30)
        daemon = None

        from tests.keyring_session import private_keyring

        home = work / "home"
        with private_keyring(work / "keyring"):
            # private_keyring points os.environ (HOME, XDG_*, the session bus) at its own keyring
            cli_env = {**os.environ, **threads}
            base = [sys.executable, "-m", "faceunlock", "--home", str(home)]
            e = subprocess.run([*base, "enroll", user, "--source", str(REAL_MOV), "--skip", "120", "--max-frames", "79",
                                "--password-stdin"], input="bench horse\n", text=True, capture_output=True,
                               env=cli_env)  # fmt: skip
            if e.returncode != 0:
                print(f"pam_latency: CLI enrolment failed: {e.stderr}", file=sys.stderr)
                return 2
            cold = []
            for _ in range(args.cold_runs):
                t = time.monotonic()
                v = subprocess.run([*base, "verify", user, "--source", str(REAL_MOV)], capture_output=True, text=True,
                                   env=cli_env, stdin=subprocess.DEVNULL)  # fmt: skip
                cold.append(time.monotonic() - t)
                if v.returncode != 0:
                    print(f"pam_latency: cold verify did not accept ({v.returncode}): {v.stdout}{v.stderr}",
                          file=sys.stderr)  # fmt: skip
                    return 2
        result["cold_verify"] = summary(cold)
        result["ratio_cold_over_warm_median"] = result["cold_verify"]["median_s"] / result["warm_pam"]["median_s"]
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(30)
        service.unlink(missing_ok=True)
        subprocess.run(["userdel", user], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    w, c = result["warm_pam"], result["cold_verify"]
    print(f"warm PAM (pamtester → pam_faceunlock.so → daemon), {w['runs']} runs: median {w['median_s']:.2f} s, "
          f"p95 {w['p95_s']:.2f} s")  # fmt: skip
    print(f"cold `faceunlock verify` (fresh process), {c['runs']} runs: median {c['median_s']:.2f} s, "
          f"p95 {c['p95_s']:.2f} s")  # fmt: skip
    print(f"ratio (cold / warm, medians): {result['ratio_cold_over_warm_median']:.1f}×; daemon start "
          f"{result['daemon_start_s']:.1f} s; threads {args.threads or 'policy (decision 018)'}")  # fmt: skip
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
