// Every op of the WebGPU backend against the CPU reference on seeded random shapes and the edge sizes
// (1, tile-1, tile+1, split boundaries), with the worst-case f32 error bounds of test-utils/error-bounds.ts.
// Skips, saying why, when there is no WebGPU adapter (run scripts/setup-webgpu.sh on Debian 12).
import type { KernelBackend, RopeSpec, Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { ANGLE_ERROR, expectExact, expectWithin, gamma, TRIG_ERROR, U, ULP } from './test-utils/error-bounds.js';
import { Rng } from './test-utils/seeded-rng.js';
import { probeWebGpu } from './test-utils/webgpu-probe.js';

const probe = await probeWebGpu();
const gpu = probe.backend!;
const ref = cpu();
afterAll(() => probe.backend?.destroy());

/** Runs `op` on both backends with the same host inputs; returns [webgpu, cpu] results. */
async function both(op: (be: KernelBackend) => Tensor): Promise<[Float32Array | Int32Array, Float32Array | Int32Array]> {
  return [await gpu.read(op(gpu)), await ref.read(op(ref))];
}

function absArray(a: Float32Array): Float32Array {
  return a.map(Math.abs);
}

function ropeSpec(headDim: number, theta: number, attentionScaling = 1): RopeSpec {
  return { headDim, attentionScaling, invFreq: Float32Array.from({ length: headDim / 2 }, (_, i) => theta ** (-(2 * i) / headDim)) };
}

describe.skipIf(!probe.backend)(`webgpu ops vs cpu (${probe.backend?.adapterName ?? 'no adapter'})`, () => {
  it('upload/read round-trips f32 and i32 exactly, including empty tensors', async () => {
    const rng = new Rng(1);
    const f = rng.floats(1031, 1e6);
    const n = rng.ints(77, -(2 ** 31), 2 ** 31 - 1);
    expectExact('f32', await gpu.read(gpu.upload(f, [1031])), f);
    expectExact('i32', await gpu.read(gpu.upload(n, [7, 11])), n);
    expect((await gpu.read(gpu.upload(new Float32Array(0), [0, 5]))).length).toBe(0);
    expectExact('zeros', await gpu.read(gpu.zeros([3, 5])), new Float32Array(15));
    expect(await gpu.read(gpu.zeros([4], 'i32'))).toBeInstanceOf(Int32Array);
  });

  it('add is exact and swiglu within its exp error', async () => {
    const rng = new Rng(2);
    for (const shape of [[1, 1], [3, 7], [rng.int(1, 9), rng.int(1, 3000)], [1, 66_000]]) {
      const n = shape[0] * shape[1];
      const a = rng.floats(n, 20);
      const b = rng.floats(n, 3);
      const [gAdd, cAdd] = await both((be) => be.add(be.upload(a, shape), be.upload(b, shape)));
      // Both sides round the exact sum once to f32.
      expectExact(`add ${shape}`, gAdd, cAdd);
      const [gS, cS] = await both((be) => be.swiglu(be.upload(a, shape), be.upload(b, shape)));
      // exp(-x) within (3 + 2|x|) ulp, then 1+e, the division (2.5 ulp) and the product: a few more ulp.
      expectWithin(`swiglu ${shape}`, gS, cS, (i) => Math.abs(cS[i]) * (9 + 2 * Math.abs(a[i])) * ULP + 1e-30);
    }
  });

  it('matmul: GEMV (m <= 4, scalar and vec4) and tiled paths within gamma(k) * sum|x||w|', async () => {
    const rng = new Rng(3);
    const shapes: [number, number, number][] = [
      [1, 1, 1], [1, 7, 5], [1, 64, 33], [4, 130, 3], [2, 129, 17], [5, 1, 9], [65, 17, 70], [64, 16, 64],
      [rng.int(5, 100), rng.int(1, 200), rng.int(1, 150)], [rng.int(1, 4), rng.int(1, 600), rng.int(1, 300)],
    ];
    for (const [m, k, n] of shapes) {
      const x = rng.floats(m * k);
      const w = rng.floats(n * k);
      const [g, c] = await both((be) => be.matmul(be.upload(x, [m, k]), be.upload(w, [n, k])));
      const absSum = (await ref.read(ref.matmul(ref.upload(absArray(x), [m, k]), ref.upload(absArray(w), [n, k])))) as Float32Array;
      expectWithin(`matmul m=${m} k=${k} n=${n}`, g, c, (i) => gamma(k) * absSum[i] + U * Math.abs(c[i]));
    }
    // k = 0: empty sums are zeros.
    const [g0] = await both((be) => be.matmul(be.upload(new Float32Array(0), [3, 0]), be.upload(new Float32Array(0), [2, 0])));
    expectExact('matmul k=0', g0, new Float32Array(6));
  });

  it('rmsNorm within gamma(d)/2 of its sum of squares plus a few roundings', async () => {
    const rng = new Rng(4);
    for (const [m, d] of [[1, 1], [3, 257], [rng.int(1, 40), rng.int(2, 2000)]]) {
      const x = rng.floats(m * d, 4);
      const w = rng.floats(d, 2);
      const [g, c] = await both((be) => be.rmsNorm(be.upload(x, [m, d]), be.upload(w, [d]), 1e-5));
      // Relative error of 1/sqrt(mean square): half that of the sum (gamma(d)/2) plus sqrt, division and
      // three products (~10 ulp in all).
      expectWithin(`rmsNorm ${m}x${d}`, g, c, (i) => Math.abs(c[i]) * (gamma(d) / 2 + 10 * ULP) + 1e-30);
    }
  });

  it('softmax within the exp error and gamma(n) of the normaliser', async () => {
    const rng = new Rng(5);
    for (const shape of [[1, 1], [2, 257], [3, 1000], [2, 3, 5]]) {
      const n = shape[shape.length - 1];
      const rows = shape.reduce((a, b) => a * b) / n;
      const x = rng.floats(rows * n, 30);
      const [g, c] = await both((be) => be.softmax(be.upload(x, shape)));
      const bound = new Float64Array(rows * n);
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * n, (r + 1) * n);
        const max = Math.max(...row);
        const maxExpUlp = Math.max(...Array.from(row, (v) => 3 + 2 * (max - v)));
        // Own exp error + the normaliser's (every exp's error and gamma(n)) + division and product.
        for (let j = 0; j < n; j++) bound[r * n + j] = c[r * n + j] * ((3 + 2 * (max - row[j]) + maxExpUlp + 4) * ULP + gamma(n)) + 1e-38;
      }
      expectWithin(`softmax [${shape}]`, g, c, (i) => bound[i]);
    }
  });

  it('rope matches the float64 reference to the angle and sin/cos error at positions up to 2^24', async () => {
    const rng = new Rng(6);
    for (const [headDim, nHeads, m] of [[64, 3, 5], [128, 2, rng.int(1, 20)]]) {
      const spec = ropeSpec(headDim, 500000, 1.25);
      const x = rng.floats(m * nHeads * headDim);
      const pos = Int32Array.from({ length: m }, (_, i) => [0, 1, 4096, 131_071, 16_777_215][i] ?? rng.int(0, 2 ** 24 - 1));
      const [g, c] = await both((be) => be.rope(be.upload(x, [m, nHeads * headDim]), be.upload(pos, [m]), nHeads, spec));
      const half = headDim / 2;
      // A pair (x1, x2) rotated with an angle off by da and cos/sin off by dt moves by at most
      // |(x1, x2)| * (da + 2 dt) <= (|x1| + |x2|) * (da + 2 dt); plus two roundings per output.
      expectWithin(`rope headDim=${headDim}`, g, c, (i) => {
        const e = i % headDim;
        const pair = e < half ? i + half : i - half;
        return spec.attentionScaling * (Math.abs(x[i]) + Math.abs(x[pair])) * (ANGLE_ERROR + 2 * TRIG_ERROR + 4 * U);
      });
    }
  });

  it('embedding, gatherChunks, scatterChunks and writeKv copy exactly', async () => {
    const rng = new Rng(7);
    const [vocab, hidden] = [rng.int(1, 300), rng.int(1, 70)];
    const table = rng.floats(vocab * hidden);
    const ids = Int32Array.from([0, vocab - 1, ...rng.ints(20, 0, vocab - 1)]);
    const [ge, ce] = await both((be) => be.embedding(be.upload(table, [vocab, hidden]), be.upload(ids, [ids.length])));
    expectExact('embedding', ge, ce);

    for (const chunkSize of [1, 8, 16]) {
      const [nKv, nChunks, d] = [rng.int(1, 4), rng.int(1, 40), 64];
      const src = rng.floats(nKv * nChunks * chunkSize * d);
      const nSel = rng.int(1, 12);
      const idx = rng.ints(nKv * nSel, 0, nChunks - 1); // repeats allowed
      const [gg, cg] = await both((be) => be.gatherChunks(be.upload(src, [nKv, nChunks * chunkSize, d]), be.upload(idx, [nKv, nSel]), chunkSize));
      expectExact(`gatherChunks chunkSize=${chunkSize}`, gg, cg);
      // scatter back into a fresh copy of src at distinct chunk ids (a prefix of a shuffled range).
      const ids = Array.from({ length: nChunks }, (_, i) => i);
      const nScatter = Math.min(nSel, nChunks);
      const sidx = new Int32Array(nKv * nScatter);
      for (let g = 0; g < nKv; g++) {
        for (let i = ids.length - 1; i > 0; i--) {
          const r = rng.int(0, i);
          [ids[i], ids[r]] = [ids[r], ids[i]];
        }
        sidx.set(ids.slice(0, nScatter), g * nScatter);
      }
      const part = rng.floats(nKv * nScatter * chunkSize * d);
      const [gs, cs] = await both((be) => {
        const dst = be.upload(src, [nKv, nChunks * chunkSize, d]);
        be.scatterChunks(dst, be.upload(part, [nKv, nScatter * chunkSize, d]), be.upload(sidx, [nKv, nScatter]), chunkSize);
        return dst;
      });
      expectExact(`scatterChunks chunkSize=${chunkSize}`, gs, cs);
    }

    const [nKv, cap, d] = [3, 50, 64];
    const cache0 = rng.floats(nKv * cap * d);
    for (const [start, m] of [[0, 1], [17, 5], [cap - 7, 7]]) {
      const x = rng.floats(m * nKv * d);
      const [gw, cw] = await both((be) => {
        const cache = be.upload(cache0, [nKv, cap, d]);
        be.writeKv(cache, be.upload(x, [m, nKv * d]), start);
        return cache;
      });
      expectExact(`writeKv start=${start} m=${m}`, gw, cw);
    }
  });

  it('attention: decode (split) and prefill (tiled) paths, GQA, causal masks, empty rows', async () => {
    const rng = new Rng(8);
    type Case = { m: number; nHeads: number; nKv: number; d: number; kvLen: number; cap: number; causal: boolean; qo: number };
    const cases: Case[] = [
      { m: 1, nHeads: 4, nKv: 4, d: 64, kvLen: 1, cap: 3, causal: false, qo: 0 },
      { m: 1, nHeads: 8, nKv: 2, d: 128, kvLen: 600, cap: 640, causal: true, qo: 599 }, // 3 splits
      { m: 3, nHeads: 4, nKv: 1, d: 64, kvLen: 257, cap: 300, causal: true, qo: 254 },
      { m: 4, nHeads: 2, nKv: 2, d: 64, kvLen: 40, cap: 40, causal: true, qo: -2 }, // rows 0-1 see no key
      { m: 5, nHeads: 4, nKv: 2, d: 64, kvLen: 37, cap: 40, causal: true, qo: 32 },
      { m: 33, nHeads: 2, nKv: 1, d: 128, kvLen: 33, cap: 33, causal: true, qo: 0 }, // tile + 1 rows
      { m: 17, nHeads: 6, nKv: 3, d: 64, kvLen: 90, cap: 100, causal: false, qo: 0 },
      { m: 20, nHeads: 2, nKv: 2, d: 64, kvLen: 30, cap: 30, causal: true, qo: -5 },
      { m: rng.int(5, 40), nHeads: 8, nKv: 2, d: 64, kvLen: rng.int(40, 200), cap: 200, causal: true, qo: 0 },
    ];
    for (const t of cases) {
      if (t.causal && t.qo === 0) t.qo = t.kvLen - t.m;
      const scale = 1 / Math.sqrt(t.d);
      const q = rng.floats(t.m * t.nHeads * t.d);
      const k = rng.floats(t.nKv * t.cap * t.d);
      const v = rng.floats(t.nKv * t.cap * t.d, 2);
      const p = { nHeads: t.nHeads, nKvHeads: t.nKv, headDim: t.d, kvLen: t.kvLen, causal: t.causal, queryOffset: t.qo, scale };
      const [g, c] = await both((be) => be.attention(be.upload(q, [t.m, t.nHeads * t.d]), be.upload(k, [t.nKv, t.cap, t.d]), be.upload(v, [t.nKv, t.cap, t.d]), p));
      // Scores err by ds = gamma(d) * scale * |q|_1 |k|_inf (plus their rounding); softmax weights then err
      // by 2 ds + the exp error (3 + 2R ulp, R the score range) per rescale (at most one per 4 keys) +
      // gamma(kvLen) for the sums; the output is a weighted mean of v, so errors scale with max|v|.
      let maxQ1 = 0;
      for (let r = 0; r < t.m * t.nHeads; r++) maxQ1 = Math.max(maxQ1, absArray(q.subarray(r * t.d, (r + 1) * t.d)).reduce((a, b) => a + b, 0));
      const maxS = scale * maxQ1 * 1; // |k| <= 1
      const ds = gamma(t.d) * maxS + U * maxS;
      const rescales = Math.ceil(t.kvLen / 4);
      const bound = 2 * (2 * ds + rescales * (3 + 4 * maxS) * ULP + 2 * gamma(t.kvLen) + 8 * U);
      expectWithin(`attention ${JSON.stringify(t)}`, g, c, () => bound);
    }
  });

  it('rebuildKeys within gamma(rank) of its products plus the rotation error', async () => {
    const rng = new Rng(9);
    for (const [rank, positionOffset, chunkSize] of [[1, 0, 8], [40, 100_000, 8], [rng.int(2, 160), 3, 4]]) {
      const [seqLen, nKv, d, nSel] = [rng.int(chunkSize * 3, 400), 2, 64, rng.int(1, 3)];
      const spec = ropeSpec(d, 10000);
      const a = rng.floats(seqLen * rank);
      const b = rng.floats(nKv * rank * d);
      const idx = rng.ints(nKv * nSel, 0, Math.floor(seqLen / chunkSize) - 1);
      const [g, c] = await both((be) => be.rebuildKeys(be.upload(a, [seqLen, rank]), be.upload(b, [nKv, rank, d]), be.upload(idx, [nKv, nSel]), chunkSize, positionOffset, spec));
      // sum_r |a||b| per output element: the CPU op on |a|, |b| with no rotation (invFreq 0).
      const flat = { headDim: d, attentionScaling: 1, invFreq: new Float32Array(d / 2) };
      const absSum = (await ref.read(ref.rebuildKeys(ref.upload(absArray(a), [seqLen, rank]), ref.upload(absArray(b), [nKv, rank, d]), ref.upload(idx, [nKv, nSel]), chunkSize, 0, flat))) as Float32Array;
      expectWithin(`rebuildKeys rank=${rank} offset=${positionOffset}`, g, c, (i) => {
        const e = i % d;
        const pair = e < d / 2 ? i + d / 2 : i - d / 2;
        return (absSum[i] + absSum[pair]) * (gamma(rank) + ANGLE_ERROR + 2 * TRIG_ERROR + 4 * U);
      });
    }
  });

  it('landmarkScores within the softmax bound of its scores', async () => {
    const rng = new Rng(10);
    for (const [nHeads, nKv, nChunks] of [[1, 1, 1], [8, 2, 7], [12, 4, 300]]) {
      const d = 64;
      const scale = 1 / Math.sqrt(d);
      const q = rng.floats(nHeads * d, 2);
      const lm = rng.floats(nKv * nChunks * d);
      const [g, c] = await both((be) => be.landmarkScores(be.upload(q, [nHeads * d]), be.upload(lm, [nKv, nChunks, d]), nHeads, scale));
      let maxQ1 = 0;
      for (let h = 0; h < nHeads; h++) maxQ1 = Math.max(maxQ1, absArray(q.subarray(h * d, (h + 1) * d)).reduce((x, y) => x + y, 0));
      const maxS = scale * maxQ1;
      // Probabilities err relatively by 2 ds + exp errors (3 + 4 maxS ulp, twice) + gamma(nChunks); the
      // max over a group of perturbed values is within the largest perturbation.
      const rel = 2 * (gamma(d) + U) * maxS + 2 * (3 + 4 * maxS) * ULP + gamma(nChunks) + 6 * U;
      expectWithin(`landmarkScores ${nHeads}/${nKv} heads, ${nChunks} chunks`, g, c, (i) => c[i] * rel + 1e-38);
    }
  });

  it('topK returns the same indices as the cpu, ties to the lower index, -0 equal to +0', async () => {
    const rng = new Rng(11);
    const cases: [number, number, number][] = [[1, 1, 1], [2, 5, 0], [3, 257, 257], [2, 1000, 1], [rng.int(1, 5), rng.int(2, 3000), 0]];
    cases[4][2] = rng.int(1, cases[4][1]);
    for (const [rows, n, k] of cases) {
      // Values on a coarse grid so that many ties exist, plus signed zeros and infinities.
      const x = Float32Array.from({ length: rows * n }, () => rng.int(-20, 20) / 4);
      for (let i = 0; i < x.length; i += 13) x[i] = i % 2 ? -0 : 0;
      if (x.length > 3) [x[1], x[2]] = [Infinity, -Infinity];
      const [g, c] = await both((be) => be.topK(be.upload(x, [rows, n]), k));
      expect(g).toBeInstanceOf(Int32Array);
      expectExact(`topK rows=${rows} n=${n} k=${k}`, g, c);
    }
  });
});
