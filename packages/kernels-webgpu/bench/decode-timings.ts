// Times the decode hot path on whatever adapter webgpu() finds: attention over a 4096-token cache
// (32 query heads, 8 KV heads, headDim 64) and a 2048x2048 GEMV, plus the prefill kernels for scale, the
// device copy rate (the bandwidth floor's denominator) and f16 decode GEMVs in GB/s.
// Run: npx tsx --conditions=@shadowkv/source packages/kernels-webgpu/bench/decode-timings.ts [iterations]
import type { Tensor } from '@shadowkv/core';
import { webgpu } from '../src/index.js';

const iterations = Number(process.argv[2] ?? 20);
const backend = await webgpu();
console.log(`adapter: ${backend.adapterName}`);

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

/** Median wall time (ms) of `op` followed by a queue drain, after one warm-up run (pipeline compile). */
async function time(label: string, op: () => Tensor): Promise<number> {
  backend.dispose(op());
  await backend.sync();
  const ms: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    const out = op();
    await backend.sync();
    ms.push(performance.now() - t0);
    backend.dispose(out);
  }
  ms.sort((a, b) => a - b);
  console.log(`${label}: median ${ms[ms.length >> 1].toFixed(2)} ms, min ${ms[0].toFixed(2)} ms (${iterations} runs)`);
  return ms[ms.length >> 1];
}

const [nHeads, nKv, headDim, kvLen] = [32, 8, 64, 4096];
const q1 = backend.upload(random(nHeads * headDim), [1, nHeads * headDim]);
const k = backend.upload(random(nKv * kvLen * headDim), [nKv, kvLen, headDim]);
const v = backend.upload(random(nKv * kvLen * headDim), [nKv, kvLen, headDim]);
const p = { nHeads, nKvHeads: nKv, headDim, kvLen, causal: true, queryOffset: kvLen - 1, scale: 1 / Math.sqrt(headDim) };
await time(`decode attention m=1 kvLen=${kvLen} ${nHeads}/${nKv} heads headDim=${headDim}`, () => backend.attention(q1, k, v, p));

const w = backend.upload(random(2048 * 2048), [2048, 2048]);
const x1 = backend.upload(random(2048), [1, 2048]);
await time('GEMV 1x2048 · 2048x2048', () => backend.matmul(x1, w));

const x512 = backend.upload(random(512 * 512), [512, 512]);
const w512 = backend.upload(random(512 * 512), [512, 512]);
await time('matmul 512x512 · 512x512 (tiled)', () => backend.matmul(x512, w512));

const m = 256;
const qp = backend.upload(random(m * nHeads * headDim), [m, nHeads * headDim]);
const pp = { ...p, kvLen: 1024, queryOffset: 1024 - m };
await time(`prefill attention m=${m} kvLen=1024 ${nHeads}/${nKv} heads headDim=${headDim}`, () => backend.attention(qp, k, v, pp));

// The bandwidth floor's denominator: a device-to-device copy (gatherChunks of every chunk, in order) of
// COPY_MIB MiB (default 256; the GPU machine: 1024), read + write bytes over the median time.
const copyMiB = Number(process.env.COPY_MIB ?? 256);
const copyRows = (copyMiB * 2 ** 20) / (64 * 4);
const src = backend.zeros([1, copyRows, 64]);
const ids = backend.upload(Int32Array.from({ length: copyRows / 64 }, (_, i) => i), [1, copyRows / 64], 'i32');
const copyMs = await time(`device copy ${copyMiB} MiB (gatherChunks)`, () => backend.gatherChunks(src, ids, 64));
console.log(`copy rate: ${((2 * copyMiB * 2 ** 20) / (copyMs / 1000) / 1e9).toPrecision(3)} GB/s (read + write)`);

// Decode GEMVs with 16-bit weights at Llama-3.2-1B's MLP shape: the bytes each streams over its time.
const wg = backend.upload(new Uint16Array(8192 * 2048).fill(0x3c00), [8192, 2048], 'f16');
const wu = backend.upload(new Uint16Array(8192 * 2048).fill(0x3c00), [8192, 2048], 'f16');
const gemvMs = await time('GEMV f16 1x2048 · 8192x2048', () => backend.matmul(x1, wg));
console.log(`  ${((8192 * 2048 * 2) / (gemvMs / 1000) / 1e9).toPrecision(3)} GB/s of weights`);
const swMs = await time('matmulSwiglu f16 1x2048 · 2x 8192x2048 (gate/up + SwiGLU fused)', () => backend.matmulSwiglu(x1, wg, wu));
console.log(`  ${((2 * 8192 * 2048 * 2) / (swMs / 1000) / 1e9).toPrecision(3)} GB/s of weights`);

backend.destroy();
