#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: real MTCNN on ../shared/data, a real gnome-keyring on a
# private D-Bus session (started by the tests), Qt on the offscreen platform. Extra args go to pytest.
# Test files run in parallel, one worker per CPU (at most 4; `-n 0` runs them in one process): each file keeps its
# own fixtures, and every test owns its keyring, store, PAM service name and daemon socket (README "Tests").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check faceunlock tests benchmarks scripts
# --max-worker-restart 0: a worker that crashes fails the run at once, naming the test it was running; with a
# restarted worker, xdist's loadfile scheduling once hung after a crash until CI was killed.
exec .venv/bin/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile --max-worker-restart 0 "$@"
