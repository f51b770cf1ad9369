"""Peak memory of the dataset commands against the number of photos: 12 vs 60 phone-sized (4000×3000) photos.

A personal folder of a few hundred phone photos is exactly what `calibrate` and `fine-tune` are for; a command
that holds every decoded photo (36 MB each) until the end runs out of memory. Each run is a fresh process on a
fresh detection cache, and its peak RSS (ru_maxrss of the child) is printed side by side with the ratio.
Goal (issue 13): 60 photos within ~25 % of 12.

The photos are made here, in a temp folder, from lfw-dev faces upscaled and pasted onto a 4000×3000 canvas (JPEG,
quality 90), a folder per person, so the test data stays in ../shared.

    PYTHONPATH=. .venv/bin/python benchmarks/dataset_memory.py [--counts 12 60] [--commands align calibrate]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "data" / "lfw-dev"


PER_PERSON = 4


def make_photos(dst: Path, n: int) -> None:
    """n phone-sized JPEGs: 4 photos per person (one to enrol, three to probe: what `calibrate`'s attempt-level
    threshold needs, decision 019), lfw-dev's people with ≥ 4 photos."""
    import cv2
    import numpy as np

    people = [d for d in sorted(LFW.iterdir()) if len(list(d.glob("*.jpg"))) >= PER_PERSON]
    made = 0
    for d in people:
        for f in sorted(d.glob("*.jpg"))[:PER_PERSON]:
            if made == n:
                return
            face = cv2.imread(str(f))
            canvas = np.full((3000, 4000, 3), 90, np.uint8)
            big = cv2.resize(face, (1500, 1500), interpolation=cv2.INTER_CUBIC)
            canvas[750:2250, 1250:2750] = big
            out = dst / d.name / f.name
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
            made += 1


def peak_rss_mib(cmd: list[str]) -> tuple[float, float, int]:
    """(peak RSS MiB of the child, seconds, exit code), measured in a wrapper so each run has its own maximum."""
    code = ("import resource, subprocess, sys, time\nt = time.perf_counter()\nrc = subprocess.run(sys.argv[1:]"
            ", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t, rc)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=True).stdout
    rss, secs, rc = out.split()
    return float(rss), float(secs), int(rc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--counts", type=int, nargs="+", default=[12, 60])
    ap.add_argument("--commands", nargs="+", choices=["align", "calibrate"], default=["align", "calibrate"])
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:

        def command_line(command: str, photos: Path, tag: str) -> list[str]:
            home = Path(tmp) / f"home-{tag}-{command}"  # a fresh detection cache: every photo is decoded
            fu = [sys.executable, "-m", "faceunlock", "--home", str(home)]
            if command == "align":
                return [*fu, "align", str(photos), str(Path(tmp) / f"aligned-{tag}"), "--json"]
            return [*fu, "calibrate", str(photos), "--weights", "dlib-resnet34", "--target-far", "0.1", "--enrol", "1",
                    "--probe", "3", "--out", str(Path(tmp) / f"cal-{tag}.json"), "--json"]  # fmt: skip

        # One graph folder for every run, filled by a first run that is not measured: a command that finds no
        # exported graph imports torch to export it (once per install), and that peak would hide the photos'.
        os.environ["FACEUNLOCK_GRAPHS"] = str(Path(tmp) / "graphs")
        warm = Path(tmp) / "photos-warm"
        make_photos(warm, 2 * PER_PERSON)
        for command in args.commands:
            rss, secs, rc = peak_rss_mib(command_line(command, warm, "warm"))
            print(f"{command:<10} first run, exporting the graphs (not compared): peak RSS {rss:7.0f} MiB  {secs:6.1f} s"
                  f"  exit {rc}", flush=True)  # fmt: skip
        for n in args.counts:
            photos = Path(tmp) / f"photos-{n}"
            make_photos(photos, n)
            for command in args.commands:
                rss, secs, rc = peak_rss_mib(command_line(command, photos, str(n)))
                rows.append((command, n, rss, secs, rc))
                print(f"{command:<10} {n:>4} photos: peak RSS {rss:7.0f} MiB  {secs:6.1f} s  exit {rc}", flush=True)
    for command in args.commands:
        r = {n: rss for c, n, rss, _, _ in rows if c == command}
        lo, hi = min(args.counts), max(args.counts)
        print(f"{command}: {hi} vs {lo} photos → peak RSS ×{r[hi] / r[lo]:.2f}")
    failed = [(c, n, rc) for c, n, _, _, rc in rows if rc != 0]
    for c, n, rc in failed:
        print(f"warning: {c} on {n} photos exited {rc}: its peak covers only what ran before it stopped",
              file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
