// What one host round trip costs on this adapter: reading back a ShadowKV layer's selected chunk ids
// ([nKvHeads, nSelect] i32) (a) with nothing else queued: the map/readback latency alone, and (b) right after
// the work a decode layer queues before it (landmark scores + top-k over nChunks, here with the q/k/v, o and MLP
// GEMVs of a Llama-3.2-1B-shaped layer in f16): the read then also waits for that work, which is what a
// per-layer round trip costs a decode step (the GPU idles while the host turns the ids into uploads).
// Run: npx tsx --conditions=@shadowkv/source packages/kernels-webgpu/bench/round-trip.ts [iterations] [nChunks]
import type { Tensor } from '@shadowkv/core';
import { webgpu } from '../src/index.js';

const iterations = Number(process.argv[2] ?? 20);
const nChunks = Number(process.argv[3] ?? 1024);
const backend = await webgpu();
console.log(`adapter: ${backend.adapterName}`);
const [hidden, inter, nHeads, nKv, headDim, nSelect] = [2048, 8192, 32, 8, 64, 256 / 8];
const random = (n: number, s = 1) => Float32Array.from({ length: n }, () => (Math.random() * 2 - 1) * s);
const w = (n: number, k: number) => backend.upload(random(n * k, 1 / Math.sqrt(k)), [n, k], 'f16');
const [wq, wk, wv, wo, wg, wu, wd] = [w(hidden, hidden), w(nKv * headDim, hidden), w(nKv * headDim, hidden), w(hidden, hidden), w(inter, hidden), w(inter, hidden), w(hidden, inter)];
const norm = backend.upload(random(hidden).map((v) => 1 + 0.1 * v), [hidden]);
const x = backend.upload(random(hidden), [1, hidden]);
const landmarks = backend.upload(random(nKv * nChunks * headDim), [nKv, nChunks, headDim]);

/** The layer's GEMVs (norm + q/k/v, o + residual, norm + gate/up, down + residual), then selection. */
function layerThenSelect(withLayer: boolean): Tensor {
  const q = backend.upload(random(nHeads * headDim), [nHeads * headDim]);
  if (withLayer) {
    const outs = backend.rmsNormMatmuls!(x, norm, 1e-5, [wq, wk, wv]);
    const x1 = backend.matmulAdd!(outs[0], wo, x);
    const act = backend.rmsNormMatmulSwiglu!(x1, norm, 1e-5, wg, wu);
    const x2 = backend.matmulAdd!(act, wd, x1);
    for (const t of [...outs, x1, act, x2]) backend.dispose(t);
  }
  const scores = backend.landmarkScores(q, landmarks, nHeads, 1 / Math.sqrt(headDim));
  const sel = backend.topK(scores, nSelect);
  backend.dispose(q);
  backend.dispose(scores);
  return sel;
}

async function time(label: string, withLayer: boolean): Promise<void> {
  backend.dispose(layerThenSelect(withLayer));
  await backend.sync();
  const total: number[] = [];
  for (let i = 0; i < iterations; i++) {
    await backend.sync();
    const t0 = performance.now();
    const sel = layerThenSelect(withLayer);
    await backend.read(sel);
    total.push(performance.now() - t0);
    backend.dispose(sel);
  }
  total.sort((a, b) => a - b);
  console.log(`${label}: median ${total[total.length >> 1].toFixed(2)} ms, min ${total[0].toFixed(2)} ms (${iterations} runs)`);
}

// (c) the bare readback: a 4-byte tensor already computed, nothing queued.
const tiny = backend.upload(Int32Array.of(1), [1], 'i32');
await backend.read(tiny);
const bare: number[] = [];
for (let i = 0; i < iterations; i++) {
  const t0 = performance.now();
  await backend.read(tiny);
  bare.push(performance.now() - t0);
}
bare.sort((a, b) => a - b);
console.log(`bare readback of 4 bytes, idle queue: median ${bare[bare.length >> 1].toFixed(3)} ms, min ${bare[0].toFixed(3)} ms`);
await time(`selection only (landmarks ${nKv}x${nChunks}, top-${nSelect}) + read`, false);
await time('1B-shaped layer GEMVs (f16) + selection + read', true);
backend.destroy();
