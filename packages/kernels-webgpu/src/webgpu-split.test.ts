// Tensors larger than one storage binding: with maxBindingBytes lowered to 4 KiB, small tensors take the
// same multi-part paths (row ranges, aligned offsets, element shifts) that a 1 GB lm-head weight takes
// under lavapipe's real 128 MiB limit; one test also crosses the adapter's real limit.
import { ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { expectExact, expectWithin, gamma, U } from './test-utils/error-bounds.js';
import { Rng } from './test-utils/seeded-rng.js';
import { probeWebGpu } from './test-utils/webgpu-probe.js';

const SMALL = 4096;
const probe = await probeWebGpu({ maxBindingBytes: SMALL });
const gpu = probe.backend!;
const ref = cpu();
afterAll(() => probe.backend?.destroy());

async function both(op: (be: KernelBackend) => Tensor): Promise<[Float32Array | Int32Array, Float32Array | Int32Array]> {
  return [await gpu.read(op(gpu)), await ref.read(op(ref))];
}

/** gamma(k) * sum|x||w| + u|ref| with sum|x||w| <= k for entries in [-1, 1]: the matmul bound of webgpu-ops.test.ts. */
function matmulBound(k: number): (i: number, c: ArrayLike<number>) => number {
  return (i, c) => gamma(k) * k + U * Math.abs(c[i]);
}

describe.skipIf(!probe.backend)('webgpu ops on tensors split across bindings', () => {
  it('binds at most the lowered size', () => {
    expect(gpu.maxBindingBytes).toBe(SMALL);
  });

  it('matmul splits w by rows and x/out by rows, tiled and GEMV, with unaligned row starts', async () => {
    const rng = new Rng(21);
    for (const [m, k, n] of [[70, 30, 50], [1, 300, 40], [3, 301, 29], [1, 301, 40], [9, 900, 3]]) {
      const x = rng.floats(m * k);
      const w = rng.floats(n * k);
      const [g, c] = await both((be) => be.matmul(be.upload(x, [m, k]), be.upload(w, [n, k])));
      const bound = matmulBound(k);
      expectWithin(`matmul ${m}x${k} · ${n}x${k}`, g, c, (i) => bound(i, c));
    }
  });

  it('embedding, add, swiglu, writeKv, gatherChunks and scatterChunks split their large operands', async () => {
    const rng = new Rng(22);
    const table = rng.floats(100 * 30);
    const ids = Int32Array.from([99, 0, 33, 34, 35, 67, 1]);
    const [ge, ce] = await both((be) => be.embedding(be.upload(table, [100, 30]), be.upload(ids, [7])));
    expectExact('embedding', ge, ce);

    const a = rng.floats(10 * 301);
    const b = rng.floats(10 * 301);
    const [ga, ca] = await both((be) => be.add(be.upload(a, [10, 301]), be.upload(b, [10, 301])));
    expectExact('add', ga, ca);
    const [gs, cs] = await both((be) => be.swiglu(be.upload(a, [10, 301]), be.upload(b, [10, 301])));
    expectWithin('swiglu', gs, cs, (i) => Math.abs(cs[i]) * 12 * 2 ** -23 + 1e-30);

    const cache0 = rng.floats(3 * 40 * 16);
    const x = rng.floats(2 * 3 * 16);
    const [gw, cw] = await both((be) => {
      const cache = be.upload(cache0, [3, 40, 16]);
      be.writeKv(cache, be.upload(x, [2, 48]), 38);
      return cache;
    });
    expectExact('writeKv', gw, cw);

    const idx = Int32Array.from([4, 0, 2, 1, 4, 3]);
    const [gg, cg] = await both((be) => be.gatherChunks(be.upload(cache0, [3, 40, 16]), be.upload(idx, [3, 2]), 8));
    expectExact('gatherChunks', gg, cg);
    const chunks = rng.floats(3 * 16 * 16);
    const [gsc, csc] = await both((be) => {
      const dst = be.upload(cache0, [3, 40, 16]);
      be.scatterChunks(dst, be.upload(chunks, [3, 16, 16]), be.upload(idx, [3, 2]), 8);
      return dst;
    });
    expectExact('scatterChunks', gsc, csc);
  });

  it('rebuildKeys binds a, and landmarkScores binds landmarks, in row ranges', async () => {
    const rng = new Rng(25);
    const [seqLen, rank, nKv, d] = [300, 12, 1, 64]; // a is 14400 bytes, b 3072
    const rope = { headDim: d, attentionScaling: 1, invFreq: Float32Array.from({ length: d / 2 }, (_, i) => 10000 ** (-i / (d / 2))) };
    const a = rng.floats(seqLen * rank);
    const b = rng.floats(nKv * rank * d);
    const idx = Int32Array.from([36, 5]);
    const [gr, cr] = await both((be) => be.rebuildKeys(be.upload(a, [seqLen, rank]), be.upload(b, [nKv, rank, d]), be.upload(idx, [nKv, 2]), 8, 50, rope));
    // |a||b| sums to at most rank; same bound as webgpu-ops.test.ts with a generous angle/trig term.
    expectWithin('rebuildKeys', gr, cr, () => 2 * rank * (gamma(rank) + 1e-5));
    // rebuildKeysInto a key buffer [1, 30, 64] (7680 bytes, more than one binding): the rebuild then a scatter.
    const dst0 = rng.floats(nKv * 30 * d);
    const [gi, ci] = await both((be) => {
      const dst = be.upload(dst0, [nKv, 30, d]);
      be.rebuildKeysInto!(dst, be.upload(a, [seqLen, rank]), be.upload(b, [nKv, rank, d]), be.upload(idx, [nKv, 2]), 8, 50, rope);
      return dst;
    });
    expectWithin('rebuildKeysInto', gi, ci, () => 2 * rank * (gamma(rank) + 1e-5));
    expectExact('rebuildKeysInto: rows past the rebuilt ones', gi.subarray(16 * d), dst0.subarray(16 * d));
    const [nHeads, nChunks] = [4, 40]; // landmarks [2, 40, 64] are 20480 bytes
    const nLm = 2;
    const q = rng.floats(nHeads * d, 0.5);
    const lm = rng.floats(nLm * nChunks * d);
    const [gl, cl] = await both((be) => be.landmarkScores(be.upload(q, [nHeads * d]), be.upload(lm, [nLm, nChunks, d]), nHeads, 0.125));
    // Scores are at most 0.125 * 32 = 4; probabilities err relatively by ~(2 ds + exp + gamma(nChunks)).
    expectWithin('landmarkScores', gl, cl, (i) => cl[i] * (2 * gamma(d) * 4 + 40 * 2 ** -23 + gamma(nChunks)) + 1e-38);
  });

  it('attention binds k and v per KV head, on both paths', async () => {
    const rng = new Rng(23);
    // headDim 64 as elsewhere (one compiled pipeline); 12 rows x 64 x 4 B = 3 KiB: one KV head per binding.
    const [nKv, cap, d, nHeads] = [3, 12, 64, 3];
    const k = rng.floats(nKv * cap * d);
    const v = rng.floats(nKv * cap * d);
    for (const m of [1, 5]) {
      const q = rng.floats(m * nHeads * d, 0.25);
      const p = { nHeads, nKvHeads: nKv, headDim: d, kvLen: 11, causal: true, queryOffset: 11 - m, scale: 0.25 };
      const [g, c] = await both((be) => be.attention(be.upload(q, [m, nHeads * d]), be.upload(k, [nKv, cap, d]), be.upload(v, [nKv, cap, d]), p));
      // Same reasoning as webgpu-ops.test.ts with |q|_1 <= 16, scale 1/4 (max score 4), |v| <= 1.
      const bound = 2 * (2 * (gamma(d) + U) * 4 + Math.ceil(11 / 4) * 19 * 2 ** -23 + 2 * gamma(11) + 8 * U);
      expectWithin(`attention m=${m}`, g, c, () => bound);
    }
  });

  it('ops that do not split say which tensor is too large', async () => {
    const x = gpu.upload(new Float32Array(10 * 301), [10, 301]);
    expect(() => gpu.softmax(x)).toThrow(ShapeError);
    expect(() => gpu.softmax(x)).toThrow(/softmax: x \[10, 301\] is 12040 bytes, more than this adapter binds at once/);
    expect(() => gpu.rmsNorm(x, gpu.upload(new Float32Array(301), [301]), 1e-5)).toThrow(/rmsNorm: x/);
    // One row larger than a binding cannot be split by rows.
    expect(() => gpu.matmul(gpu.upload(new Float32Array(2000), [1, 2000]), gpu.upload(new Float32Array(2000), [1, 2000]))).toThrow(/matmul: one row is 8000 bytes/);
    // Attention needs one KV head of the cache in one binding.
    const kv = gpu.zeros([1, 20, 64]);
    const q = gpu.zeros([1, 64]);
    expect(() => gpu.attention(q, kv, kv, { nHeads: 1, nKvHeads: 1, headDim: 64, kvLen: 20, causal: false, queryOffset: 0, scale: 1 })).toThrow(
      /attention: one KV head of k\/v is 5120 bytes \(capacity 20 x headDim 64 x 4\).*at most 15 tokens/,
    );
  });
});

describe.skipIf(!probe.backend)('webgpu ops beyond the adapter\'s real binding limit', () => {
  it('GEMV and embedding over a weight larger than maxStorageBufferBindingSize', async () => {
    const full = await probeWebGpu();
    const be = full.backend!;
    try {
      const limit = be.maxBindingBytes;
      const k = 256;
      const n = Math.floor(limit / (k * 4)) + 1000; // just over one binding
      const rng = new Rng(24);
      const w = rng.floats(n * k);
      const x = rng.floats(k);
      const wg = be.upload(w, [n, k]);
      const got = (await be.read(be.matmul(be.upload(x, [1, k]), wg))) as Float32Array;
      const want = (await ref.read(ref.matmul(ref.upload(x, [1, k]), ref.upload(w, [n, k])))) as Float32Array;
      expectWithin(`gemv over ${n}x${k} (${(n * k * 4) / 2 ** 20} MiB)`, got, want, (i) => gamma(k) * k + U * Math.abs(want[i]));
      const ids = Int32Array.from([0, n - 1, n - 1000, 7]);
      const rows = (await be.read(be.embedding(wg, be.upload(ids, [4])))) as Float32Array;
      ids.forEach((id, r) => expectExact(`embedding row ${id}`, rows.subarray(r * k, (r + 1) * k), w.subarray(id * k, (id + 1) * k)));
    } finally {
      be.destroy();
    }
  });
});
