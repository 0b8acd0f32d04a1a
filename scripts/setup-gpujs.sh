#!/usr/bin/env bash
# Installs what the optional gpu.js backend (`@shadowkv/kernels-gpujs`) needs on Debian/Ubuntu, from the
# machine's normal apt sources. Idempotent: a fast no-op when everything is present.
#
#   build time (this script builds gl@8.1.6 from source after `pnpm install`, ~2-4 min on 2 cores; pnpm
#     install itself skips it, see ignoredBuiltDependencies): build-essential, python3, pkg-config, libxi-dev
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
# headless-gl (gl, an optional dependency of gpu.js) is built here, not by `pnpm install`: once the workspace is
# installed and the build tools are present. Without node_modules (CI runs this before installing) it waits.
build_gl() {
  local root gl
  root="$(cd "$(dirname "$0")/.." && pwd)"
  gl=$(cd "$root" && node -e '
    const { createRequire } = require("node:module");
    try {
      const fromGpujs = createRequire(require.resolve("gpu.js/package.json", { paths: ["packages/kernels-gpujs"] }));
      console.log(require("node:path").dirname(fromGpujs.resolve("gl/package.json")));
    } catch { /* not installed yet */ }' 2>/dev/null || true)
  if [ -z "$gl" ]; then log "gl is not installed yet (run pnpm install, then this script again to build it)"; return 0; fi
  if [ -f "$gl/build/Release/webgl.node" ]; then log "gl already built ($gl)"; return 0; fi
  log "building gl (headless-gl) from source in $gl: about 2-4 minutes on 2 cores"
  local t0=$SECONDS
  # gl's own install script tries a prebuilt download first (no network here); node-gyp is its dependency.
  # The system's Node headers when present: node-gyp would otherwise download them (only registries are reachable).
  local nodedir=() prefix
  prefix=$(dirname "$(dirname "$(command -v node)")")
  [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/common.gypi" ] && nodedir=("--nodedir=$prefix")
  (cd "$gl" && node "$(dirname "$(node -e 'console.log(require.resolve("node-gyp/package.json", { paths: [process.cwd()] }))')")/bin/node-gyp.js" rebuild --release --jobs=2 "${nodedir[@]}" > "$root/node_modules/.gl-build.log" 2>&1) ||
    { tail -30 "$root/node_modules/.gl-build.log"; echo "setup-gpujs: error: building gl failed (log: node_modules/.gl-build.log)" >&2; exit 1; }
  log "built gl in $((SECONDS - t0)) s"
}

if [ ${#missing[@]} -eq 0 ]; then
  log "apt packages all present (${PACKAGES[*]})"
  build_gl
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
build_gl
