#!/usr/bin/env bash
# Prepares packages/kernels-cuda/.gpu/ (git-ignored), the folder scripts/gpu-check.sh needs on the GPU machine,
# which has no Node and no node_modules: Node itself (xz), the JS bundled by tsup (CLI, conformance runner,
# golden check, backends as packages), the built CUDA addon, Dawn (dawn.node) and the Vulkan loader for
# --backend webgpu, and the niah data. Big binaries are stored as .xz under .gpu/xz/ and unpacked there.
# Checks that the working tree plus this folder fit the device tool's 64 MiB per call. Run from anywhere:
#   bash scripts/gpu-pack.sh            # then: device run, carry ["packages/kernels-cuda/.gpu"], bash scripts/gpu-check.sh
# Options: --no-webgpu (leave Dawn and Vulkan out), --no-apt (no Vulkan loader download).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PKG=packages/kernels-cuda
G=$PKG/.gpu
LIMIT=$((64 * 1024 * 1024))
WEBGPU=1
APT=1
for a in "$@"; do
  case "$a" in
    --no-webgpu) WEBGPU=0 ;;
    --no-apt) APT=0 ;;
    *) echo "gpu-pack: unknown option $a" >&2; exit 2 ;;
  esac
done
say() { echo "[gpu-pack] $*"; }
mkdir -p "$G/xz"

# 1. The addon (nvcc for sm_80 and sm_90; incremental).
node $PKG/scripts/build-addon.mjs
ADDON=$PKG/native/build/Release/shadowkv_cuda.node
[ -f "$ADDON" ] || { echo "gpu-pack: $ADDON was not built (no nvcc here?); the GPU check needs it" >&2; exit 1; }

# 2. The bundle: workspace TypeScript sources -> ESM files (bin/ and node_modules/@shadowkv/*).
rm -rf "$G/bin" "$G/node_modules"
(cd $PKG && npx tsup --config scripts/gpu/tsup.gpu.config.ts >/dev/null)
for p in core kernels-cuda kernels-webgpu; do
  printf '{ "name": "@shadowkv/%s", "type": "module", "main": "index.mjs" }\n' "$p" > "$G/node_modules/@shadowkv/$p/package.json"
done
# The CLI reads its version from ../package.json (relative to bin/cli.mjs).
cp apps/shadowkv/package.json "$G/package.json"
mkdir -p "$G/xz/node_modules/@shadowkv/kernels-cuda"
xz -T2 -c "$ADDON" > "$G/xz/node_modules/@shadowkv/kernels-cuda/shadowkv_cuda.node.xz"
say "bundle: $(du -sh "$G/bin" | cut -f1) in bin/, addon $(du -h "$ADDON" | cut -f1) (xz $(du -h "$G/xz/node_modules/@shadowkv/kernels-cuda/shadowkv_cuda.node.xz" | cut -f1))"

# 3. Node (about 24 MB as xz), redone only when the node binary changed.
NODE_BIN=$(command -v node)
if [ ! -f "$G/xz/node.xz" ] || [ "$NODE_BIN" -nt "$G/xz/node.xz" ]; then
  say "compressing $NODE_BIN ($(node --version))"
  xz -T2 -c "$NODE_BIN" > "$G/xz/node.xz.partial" && mv "$G/xz/node.xz.partial" "$G/xz/node.xz"
fi

# 4. Dawn for --backend webgpu, and the Vulkan loader (the GPU image may lack libvulkan1).
rm -rf "$G/xz/node_modules/webgpu" "$G/debs"
if [ "$WEBGPU" = 1 ]; then
  WG=$(cd $ROOT/packages/kernels-webgpu && node -e "console.log(require('node:path').dirname(require.resolve('webgpu/package.json')))" 2>/dev/null || true)
  if [ -n "$WG" ] && [ -f "$WG/dist/linux-x64/dawn.node" ]; then
    mkdir -p "$G/node_modules/webgpu" "$G/xz/node_modules/webgpu/dist/linux-x64"
    cp "$WG/index.js" "$WG/package.json" "$G/node_modules/webgpu/"
    xz -T2 -c "$WG/dist/linux-x64/dawn.node" > "$G/xz/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
    say "webgpu: dawn.node $(du -h "$WG/dist/linux-x64/dawn.node" | cut -f1) (xz $(du -h "$G/xz/node_modules/webgpu/dist/linux-x64/dawn.node.xz" | cut -f1))"
  else
    say "webgpu package not found: --backend webgpu will be skipped there"
  fi
  if [ "$APT" = 1 ]; then
    mkdir -p "$G/debs" /tmp/skv-amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/skv-amd64'
    if apt-get $o update >/dev/null 2>&1 && (cd "$G/debs" && apt-get $o download libvulkan1 >/dev/null 2>&1); then
      say "vulkan loader: $(ls "$G/debs")"
    else
      rm -rf "$G/debs"
      say "could not download libvulkan1: webgpu there relies on the image's own loader"
    fi
  fi
fi

# 5. The needle benchmark rows (the needle-llama model travels with the tree: apps/shadowkv/assets/needle-llama).
NIAH=../shared/bench/niah-dev.jsonl
mkdir -p "$G/xz/data"
if [ -f "$NIAH" ]; then
  xz -T2 -c "$NIAH" > "$G/xz/data/niah-dev.jsonl.xz"
else
  say "no $NIAH here: bench niah will be skipped there"
fi

# 6. Size: what a device call carries = the working tree (tracked + untracked, not ignored) + this folder.
TREE=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
CARRY=$(du -sb "$G" | cut -f1)
TOTAL=$((TREE + CARRY))
say "working tree $((TREE / 1048576)) MiB + $G $((CARRY / 1048576)) MiB = $((TOTAL / 1048576)) MiB of the 64 MiB a call carries"
if [ "$TOTAL" -gt "$LIMIT" ]; then
  echo "gpu-pack: over the device tool's 64 MiB limit; try --no-webgpu, or carry less of the tree" >&2
  exit 1
fi
say "ready: device run with carry [\"$G\"] and command: bash scripts/gpu-check.sh"
