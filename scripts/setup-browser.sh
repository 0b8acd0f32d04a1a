#!/usr/bin/env bash
# Installs Debian's Chromium for the headless-browser WebGPU test (examples/browser-webgpu). Idempotent:
# a fast no-op once /usr/bin/chromium runs.
#
# What it does, and why:
#   * `chromium` from the machine's normal apt sources (the test drives it through playwright-core with
#     executablePath /usr/bin/chromium; playwright's own browser download is never used).
#   * `fonts-liberation` so the page's text renders in the screenshot-able page (Chromium only recommends
#     a font package; with --no-install-recommends it would have none).
#   * WebGPU in headless Chromium runs on its bundled SwiftShader (a CPU Vulkan), so no GPU driver is needed.
#
# Usage: bash scripts/setup-browser.sh [--force]
set -euo pipefail

FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

log() { echo "setup-browser: $*"; }
die() { echo "setup-browser: error: $*" >&2; exit 1; }

# ---- fast path -------------------------------------------------------------------------------------
# Outputs are captured before matching: `cmd | grep -q` can fail under pipefail when grep exits early.
FONTS_STATUS="$(dpkg-query -W -f='${Status}' fonts-liberation 2>/dev/null || true)"
if [ "$FORCE" = 0 ] && [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1 \
  && [ "$FONTS_STATUS" = "install ok installed" ]; then
  log "$(/usr/bin/chromium --version 2>/dev/null | head -n1) already installed; nothing to do"
  exit 0
fi

# ---- checks ----------------------------------------------------------------------------------------
command -v apt-get >/dev/null || die "apt-get not found; install Chromium with your package manager and make it available as /usr/bin/chromium"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  die "installing chromium needs root: run as root or install sudo"
fi
as_root() { if [ -z "$SUDO" ]; then "$@"; else $SUDO "$@"; fi; }

# ---- install ---------------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
CANDIDATE="$(apt-cache policy chromium 2>/dev/null || true)"
if ! [[ "$CANDIDATE" =~ Candidate:\ [0-9] ]]; then
  log "apt package lists do not offer chromium yet; running apt-get update"
  as_root apt-get -qq update
fi
log "installing chromium and fonts-liberation from the normal apt sources"
as_root apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null

# ---- verify ------------------------------------------------------------------------------------------
[ -x /usr/bin/chromium ] || die "apt-get installed chromium but /usr/bin/chromium is missing"
VERSION="$(/usr/bin/chromium --version 2>/dev/null)" || die "/usr/bin/chromium does not start (run /usr/bin/chromium --version to see why)"
log "installed $VERSION"
