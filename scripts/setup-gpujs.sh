#!/usr/bin/env bash
# Installs what the optional gpu.js backend (`@shadowkv/kernels-gpujs`) needs on Debian/Ubuntu, from the
# machine's normal apt sources. Idempotent: a fast no-op when everything is present.
#
#   build time (pnpm builds gl@8.1.6 from source, ~2 min): build-essential, python3, pkg-config, libxi-dev
#   run time (gpu.js's `headlessgl` mode needs an X server): xvfb (Xvfb, xvfb-run), xauth, and Mesa's
#     software OpenGL (libgl1-mesa-dri, libglx-mesa0) for the X server to render with.
#
# Without these, gpu.js still works in its `cpu` mode; nothing else in the repository depends on them.
# Usage: bash scripts/setup-gpujs.sh
set -euo pipefail

PACKAGES=(build-essential python3 pkg-config libxi-dev xvfb xauth libgl1-mesa-dri libglx-mesa0)

log() { echo "setup-gpujs: $*"; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all present (${PACKAGES[*]}); nothing to do"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || {
  echo "setup-gpujs: error: apt-get not found; install the equivalents of: ${missing[*]}" >&2
  exit 1
}
if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
  echo "setup-gpujs: error: installing ${missing[*]} needs root: run as root or install sudo" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Empty package lists (fresh containers) make every install fail; refresh them only then.
if ! apt-cache policy "${missing[0]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  log "apt package lists are empty; running apt-get update"
  "${SUDO[@]}" apt-get -qq update
fi
log "installing ${missing[*]}"
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed ${missing[*]}"
