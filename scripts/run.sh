#!/usr/bin/env bash
# Set up (if needed) and start the faceunlock app (main window). Extra args go to `faceunlock gui`,
# e.g. `scripts/run.sh --source path/to/video.mp4` on a machine without a webcam.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/faceunlock gui "$@"
