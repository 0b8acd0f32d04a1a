// What one host round trip costs on this adapter: reading back a ShadowKV layer's selected chunk ids
// ([nKvHeads, nSelect] i32) (a) with nothing else queued: the map/readback latency alone, and (b) right after
// the work a decode layer queues before it (landmark scores + top-k over nChunks, here with the q/k/v, o and MLP
// GEMVs of a Llama-3.2-1B-shaped layer in f16): the read then also waits for that work, which is what a
// per-layer round trip costs a decode step (the GPU idles while the host turns the ids into uploads).
// (d) the device-side chunk cache: the same selection, then chunkCacheUpdate, the misses' read started, the key
// rebuild (rebuildKeysInto, rank 160, into a [nKvHeads, budget + 512, headDim] key buffer) queued and flushed,
// then the wait: how long until the misses are on the host, and until the rebuild is done too.
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

const rank = 160;
const chunkSize = 8;
const seqLen = nChunks * chunkSize;
const a = backend.upload(random(seqLen * rank), [seqLen, rank]);
const b = backend.upload(random(nKv * rank * headDim, 1 / Math.sqrt(rank)), [nKv, rank, headDim]);
const kd = backend.zeros([nKv, nSelect * chunkSize + 512, headDim]);
const table = backend.upload(new Int32Array(nKv * (nSelect + nChunks)).fill(-1), [nKv, nSelect + nChunks], 'i32');
const rope = { headDim, attentionScaling: 1, invFreq: Float32Array.from({ length: headDim / 2 }, (_, i) => 500000 ** (-i / (headDim / 2))) };

/** (d): misses on the host after `missesMs`, the rebuild done after `doneMs` (both from the start of the layer). */
async function deviceCacheOnce(withLayer: boolean): Promise<{ missesMs: number; doneMs: number; missBytes: number }> {
  await backend.sync();
  const t0 = performance.now();
  const sel = layerThenSelect(withLayer);
  const { order, misses } = backend.chunkCacheUpdate!(table, sel, { slots: nSelect, fullChunks: nChunks, capacity: nKv * nSelect });
  const list = backend.read(misses);
  backend.rebuildKeysInto!(kd, a, b, order, chunkSize, 0, rope);
  backend.flush!();
  const m = await list;
  const missesMs = performance.now() - t0;
  await backend.sync();
  const doneMs = performance.now() - t0;
  for (const t of [sel, order, misses]) backend.dispose(t);
  return { missesMs, doneMs, missBytes: m.byteLength };
}

async function timeDevice(label: string, withLayer: boolean): Promise<void> {
  await deviceCacheOnce(withLayer);
  const runs: { missesMs: number; doneMs: number; missBytes: number }[] = [];
  for (let i = 0; i < iterations; i++) runs.push(await deviceCacheOnce(withLayer));
  const med = (k: 'missesMs' | 'doneMs') => runs.map((r) => r[k]).sort((x, y) => x - y)[runs.length >> 1];
  console.log(`${label}: misses on the host after median ${med('missesMs').toFixed(2)} ms, rebuild done after ${med('doneMs').toFixed(2)} ms (${runs[0].missBytes} bytes read; ${iterations} runs)`);
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
await timeDevice(`selection + chunkCacheUpdate + misses read, rebuild of ${nSelect * chunkSize} keys (rank ${rank}) flushed before the wait`, false);
await timeDevice('1B-shaped layer GEMVs (f16) + the same', true);
backend.destroy();
