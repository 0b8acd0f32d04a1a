#!/usr/bin/env bash
# The one prepared GPU check of the cuda backend, for the GPU machine (device tool), run from the repo root
# with packages/kernels-cuda/.gpu carried (made here by scripts/gpu-pack.sh). Writes under $OUT:
#   summary.txt        device, cuBLAS, copy rate, one line per stage (ok / FAILED / skipped, seconds)
#   log.txt            everything the stages printed
#   conformance.json   the backend conformance suite on cuda (every op against the CPU reference)
#   golden.json        greedy tokens on fixtures/hf-llama-gqa (f32 and bf16 weights) against transformers
#   niah.json          bench niah --limit 24 on cuda (dense and ShadowKV; CPU reference: 24/24 and 23/24)
#   speed-cuda.md      bench speed --random llama-3.2-1b at 8K/32K/128K, dense/shadowkv/kcache (table + JSON)
#   speed-webgpu.md    the same on webgpu (Dawn on Vulkan), 8K only: the time budget
#   floor.json         ms per decode token against the bandwidth floor (bytes a step reads / measured copy rate)
# Each stage has its own time limit (550 s in all), so the run fits one 600 s device call, and a stage that
# hangs or fails leaves the others' results; bench speed writes its file after every context, so a 128K context
# cut off by the limit still leaves 8K and 32K. On a machine without a GPU it stops after saying so (tested here).
# Usage: device run, carry ["packages/kernels-cuda/.gpu"], command "bash scripts/gpu-check.sh", timeout_s 600.
set -uo pipefail
cd "$(dirname "$0")/.."
G=${GPU_DIR:-packages/kernels-cuda/.gpu}
OUT=${OUT:-/tmp/shadowkv-gpu-out}
mkdir -p "$OUT"
: > "$OUT/summary.txt"
exec > >(tee -a "$OUT/log.txt") 2>&1
note() { echo "[gpu-check $(date -u +%H:%M:%S)] $*"; echo "$*" >> "$OUT/summary.txt"; }

# stage NAME LIMIT_SECONDS OUTFILE COMMAND...: runs one stage with its limit, stdout to OUTFILE (or the log).
stage() {
  local name=$1 limit=$2 out=$3
  shift 3
  local t0=$SECONDS rc
  echo "[gpu-check] ---- $name (limit ${limit}s): $*"
  if [ "$out" = - ]; then timeout "$limit" "$@"; else timeout "$limit" "$@" > "$out"; fi
  rc=$?
  local status=ok
  [ $rc -eq 124 ] && status="TIMED OUT after ${limit}s" || { [ $rc -ne 0 ] && status="FAILED (exit $rc)"; }
  note "$name: $status in $((SECONDS - t0)) s"
  return $rc
}

# ---- unpack what gpu-pack.sh compressed (Node, the addon, dawn.node, the niah rows) ----
[ -d "$G/xz" ] || { note "no $G/xz: run scripts/gpu-pack.sh here first and carry $G"; exit 1; }
while IFS= read -r f; do
  rel=${f#"$G/xz/"}
  dst="$G/${rel%.xz}"
  mkdir -p "$(dirname "$dst")"
  xz -dc "$f" > "$dst"
done < <(find "$G/xz" -name '*.xz')
chmod +x "$G/node"
NODE=$(cd "$(dirname "$G/node")" && pwd)/node
note "node $("$NODE" --version), $(date -u +%Y-%m-%dT%H:%MZ)"

# ---- the device ----
if command -v nvidia-smi >/dev/null 2>&1; then
  note "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
else
  note "no nvidia-smi on this machine"
fi
# cuBLAS: the image's Python wheel (nvidia-cublas) or a CUDA toolkit; the addon dlopens SHADOWKV_CUBLAS.
if [ -z "${SHADOWKV_CUBLAS:-}" ]; then
  SHADOWKV_CUBLAS=$(find /opt /usr /root -name 'libcublas.so.13' 2>/dev/null | head -1)
fi
if [ -n "$SHADOWKV_CUBLAS" ]; then
  export SHADOWKV_CUBLAS
  export LD_LIBRARY_PATH="$(dirname "$SHADOWKV_CUBLAS")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  note "cuBLAS: $SHADOWKV_CUBLAS"
else
  note "cuBLAS: libcublas.so.13 not found (matmul needs it; cuda() will say so)"
fi

# ---- conformance first: it also tells whether the backend runs at all ----
stage conformance 90 "$OUT/conformance.json" "$NODE" "$G/bin/conformance-run.mjs" cuda
if ! grep -q '"passed"' "$OUT/conformance.json" 2>/dev/null; then
  note "the cuda backend did not start here (see log.txt); stopping"
  exit 1
fi

# ---- the memory copy rate (read + write bytes per second), for the bandwidth floor ----
COPY_GBPS=$(python3 - <<'PY' 2>/dev/null
import time, torch
x = torch.empty(1 << 29, dtype=torch.float32, device='cuda')  # 2 GiB
y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(10): y.copy_(x)
torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 10
print(f"{2 * x.numel() * 4 / dt / 1e9:.0f}")
PY
)
note "device-to-device copy: ${COPY_GBPS:-unknown} GB/s (bytes read + written)"

# ---- golden tokens ----
: > "$OUT/golden.json"
stage "golden f32" 40 - sh -c "\"$NODE\" \"$G/bin/golden-run.mjs\" fixtures/hf-llama-gqa cuda f32 >> \"$OUT/golden.json\""
stage "golden bf16" 40 - sh -c "\"$NODE\" \"$G/bin/golden-run.mjs\" fixtures/hf-llama-gqa cuda bf16 >> \"$OUT/golden.json\""

# ---- needle accuracy (CPU reference in BENCHMARKS.md: dense 24/24, ShadowKV 23/24, same cells) ----
if [ -f "$G/data/niah-dev.jsonl" ]; then
  stage "niah --limit 24" 120 "$OUT/niah.json" "$NODE" "$G/bin/cli.mjs" bench niah --model apps/shadowkv/assets/needle-llama \
    --data "$G/data/niah-dev.jsonl" --limit 24 --backend cuda --policy dense,shadowkv --budget 256 --rank 32 --outliers 4 --json --quiet
else
  note "niah: skipped (no data carried)"
fi

# ---- speed ----
stage "speed cuda" 200 - "$NODE" "$G/bin/cli.mjs" bench speed --backend cuda --random llama-3.2-1b --context 8192,32768,131072 \
  --policy dense,shadowkv,kcache --max-context 131104 --out "$OUT/speed-cuda.md"
if [ -d "$G/debs" ]; then
  for f in "$G"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
stage "speed webgpu" 60 - "$NODE" "$G/bin/cli.mjs" bench speed --backend webgpu --random llama-3.2-1b --context 8192 \
  --policy dense,shadowkv,kcache --out "$OUT/speed-webgpu.md"

# ---- ms per token against the bandwidth floor ----
"$NODE" - "$OUT" "${COPY_GBPS:-0}" <<'JS' > "$OUT/floor.json"
// Floor of one decode step: the bytes it must read (weights as stored + the KV state the policy keeps on the GPU,
// an upper bound of what attention reads) at the measured copy rate. Ratio = measured ms / floor ms.
const { readFileSync, existsSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const [out, gbps] = process.argv.slice(2);
const model = join(tmpdir(), 'shadowkv-random-llama-3.2-1b-seed0', 'model.safetensors');
const weightBytes = existsSync(model) ? statSync(model).size : 0;
const rows = [];
for (const f of ['speed-cuda.md', 'speed-webgpu.md']) {
  const p = join(out, f);
  if (!existsSync(p)) continue;
  const m = readFileSync(p, 'utf8').match(/```json\n([\s\S]*?)\n```/);
  if (!m) continue;
  for (const r of JSON.parse(m[1])) {
    const kv = r.policy.name === 'dense' ? r.memory.denseBytes : r.memory.fastBytes;
    const bytes = weightBytes + kv;
    const floorMs = Number(gbps) > 0 ? (bytes / (Number(gbps) * 1e9)) * 1e3 : null;
    const ms = 1000 / r.decodeTokensPerSecond;
    rows.push({ backend: r.backend, policy: r.policy.name, context: r.context, msPerToken: ms, bytesPerStep: bytes, floorMs, ratio: floorMs ? ms / floorMs : null, tokensPerSecond: r.decodeTokensPerSecond });
  }
}
console.log(JSON.stringify({ copyGBps: Number(gbps), weightBytes, rows }, null, 1));
for (const r of rows) console.error(`${r.backend} ${r.policy} ${r.context}: ${r.msPerToken.toFixed(2)} ms/token, floor ${r.floorMs?.toFixed(2)} ms, ${r.ratio?.toFixed(2)}x`);
JS
note "floor: see floor.json"
note "done"
