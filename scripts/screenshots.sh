#!/usr/bin/env bash
# Screenshots of the Qt app (main window, every wizard step, settings, recognition test, lock screen) under Xvfb
# at 1280x720 and 1920x1080, written to screenshots/ (git-ignored). Each size runs in its own throw-away
# FACEUNLOCK_HOME, HOME and gnome-keyring on a private D-Bus session: your real data and keyring are not touched.
# Needs: xvfb, xauth, imagemagick, gnome-keyring, dbus-x11 (apt) and ../shared/data (or FACEUNLOCK_SHARED).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-screenshots}
SHARED=${FACEUNLOCK_SHARED:-../shared}
DATA=$SHARED/data
[ -d "$DATA" ] || DATA=$SHARED
VIDEO=$DATA/liveness/webcam-replay/real.mov
STRANGER=$DATA/lfw-dev/Tony_Blair
for f in "$VIDEO" "$STRANGER"; do
  [ -e "$f" ] || { echo "screenshots: missing $f (set FACEUNLOCK_SHARED)" >&2; exit 2; }
done
for tool in xvfb-run import dbus-run-session gnome-keyring-daemon; do
  command -v "$tool" >/dev/null || { echo "screenshots: $tool not found (apt-get install xvfb xauth imagemagick gnome-keyring dbus-x11)" >&2; exit 2; }
done
mkdir -p "$OUT"
for size in 1280x720 1920x1080; do
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/home" "$tmp/run"
  chmod 700 "$tmp/run"
  echo "== $size"
  env -u DBUS_SESSION_BUS_ADDRESS -u PYTHON_KEYRING_BACKEND -u QT_QPA_PLATFORM \
    HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" XDG_CONFIG_HOME="$tmp/home/.config" \
    XDG_DATA_HOME="$tmp/home/.local/share" FACEUNLOCK_HOME="$tmp/fu" \
    xvfb-run -a -s "-screen 0 ${size}x24" \
    dbus-run-session -- bash -c '
      echo -n screenshots-keyring | gnome-keyring-daemon --unlock --components=secrets >/dev/null
      exec "$0" scripts/screenshots.py "$@"' "$PY" "$OUT" "$size" "$VIDEO" "$STRANGER" 2>&1 \
    | grep -v -e "Failed to set fd limit" -e "propagateSizeHints"
  rm -rf "$tmp"
  trap - EXIT
done
echo "screenshots in $OUT/"
