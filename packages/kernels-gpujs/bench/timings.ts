// Times the gpu.js backend on two reference workloads — a 256×256 matmul and one decode attention step over
// kvLen 4096 — in each mode given on the command line, separating the first call (shader compile) from
// steady-state calls. Run: npx tsx --conditions=@shadowkv/source packages/kernels-gpujs/bench/timings.ts headlessgl webasm cpu
// (headlessgl needs DISPLAY; start one with `xvfb-run -a` in front of the command).
import { gpujs, type GpujsMode } from '../src/index.js';

function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

async function time(label: string, reps: number, fn: () => Promise<void>): Promise<void> {
  let t0 = performance.now();
  await fn();
  const first = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  const steady = (performance.now() - t0) / reps;
  console.log(`  ${label}: first call ${first.toFixed(1)} ms, then ${steady.toFixed(1)} ms per call (mean of ${reps})`);
}

const modes = (process.argv.slice(2).length ? process.argv.slice(2) : ['gpu']) as GpujsMode[];
for (const mode of modes) {
  let be;
  try {
    be = await gpujs({ mode });
  } catch (e) {
    console.log(`${mode}: unavailable — ${(e as Error).message}`);
    continue;
  }
  console.log(`${mode} (gpu.js kernel: ${be.mode})`);
  const x = be.upload(rand(256 * 256, 1), [256, 256]);
  const w = be.upload(rand(256 * 256, 2), [256, 256]);
  await time('matmul 256x256x256 incl. read', 5, async () => {
    const y = be.matmul(x, w);
    await be.read(y);
    be.dispose(y);
  });
  // Llama-3-8B-like decode step: 32 query heads, 8 KV heads, headDim 128, 4096 cached tokens.
  const nHeads = 32, nKv = 8, d = 128, cap = 4096;
  const q = be.upload(rand(nHeads * d, 3), [1, nHeads * d]);
  const k = be.upload(rand(nKv * cap * d, 4), [nKv, cap, d]);
  const v = be.upload(rand(nKv * cap * d, 5), [nKv, cap, d]);
  let kvLen = cap - 8;
  await time('decode attention kvLen≈4096 (32/8 heads, headDim 128) incl. read', 5, async () => {
    // kvLen grows like real decode steps: the compiled kernels must be reused.
    const o = be.attention(q, k, v, { nHeads, nKvHeads: nKv, headDim: d, kvLen: kvLen++, causal: false, queryOffset: 0, scale: 1 / Math.sqrt(d) });
    await be.read(o);
    be.dispose(o);
  });
  console.log(`  kernels compiled: ${be.compiledKernels}`);
  be.destroy();
}
