#!/usr/bin/env bash
# Set up faceunlock on a fresh Debian/Ubuntu machine: system packages (Qt runtime libs, Xvfb, gnome-keyring,
# D-Bus) and a virtual environment in .venv with everything installed. Idempotent: a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(xvfb xauth imagemagick gnome-keyring dbus dbus-x11 libegl1 libgl1 libfontconfig1 libdbus-1-3
  libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-xkb1 libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xfixes0 libglib2.0-0
  gcc make libpam0g-dev pamtester
  libx11-6 libxtst6)  # the X11 grab test's second client (tests/attacks/x11_client.py, ctypes)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The PAM module (C, warnings as errors): make rebuilds build/pam_faceunlock.so only when pam/ changed.
make -s -C pam

PY=${PYTHON:-python3}
stamp=.venv/.faceunlock-setup
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: an open range would pull a newer multi-GB CUDA build; 2.14.1 pairs with torchvision 0.29.1
.venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install -q -e ".[gui,plots,test]"
echo "$want" > "$stamp"
echo "setup: ready (.venv)"
