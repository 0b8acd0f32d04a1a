import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { randomArray } from './random-data.test-support.js';
import { landmarkChunkIds, selectChunks } from './select-chunks.js';
import { massCount, selectTokens, tokenScores } from './select-tokens.js';

const backend = cpu();

/** Host reference: softmax(q·kᵀ·scale) per query head over rows 0..n, max over the group: [nKvHeads][n]. */
function groupMaxProbs(q: Float32Array, rows: Float32Array, nHeads: number, nKvHeads: number, rowStride: number, n: number, headDim: number, scale: number): number[][] {
  const group = nHeads / nKvHeads;
  const out = Array.from({ length: nKvHeads }, () => new Array<number>(n).fill(0));
  for (let h = 0; h < nHeads; h++) {
    const g = Math.floor(h / group);
    const s: number[] = [];
    for (let j = 0; j < n; j++) {
      let d = 0;
      for (let e = 0; e < headDim; e++) d += q[h * headDim + e] * rows[(g * rowStride + j) * headDim + e];
      s.push(d * scale);
    }
    const max = Math.max(...s);
    const ex = s.map((x) => Math.exp(x - max));
    const sum = ex.reduce((a, b) => a + b, 0);
    for (let j = 0; j < n; j++) out[g][j] = Math.max(out[g][j], ex[j] / sum);
  }
  return out;
}

function topIds(p: number[], k: number): number[] {
  return p
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i)
    .sort((a, b) => a - b);
}

describe('selectChunks', () => {
  it('picks the top landmarks by group-max softmax and maps them to chunk ids', async () => {
    const nHeads = 8;
    const nKvHeads = 2;
    const headDim = 16;
    const nLandmarks = 40;
    const count = 7;
    const scale = 1 / Math.sqrt(headDim);
    const q = randomArray(nHeads * headDim, 1, 3);
    const lm = randomArray(nKvHeads * nLandmarks * headDim, 2, 3);
    // Landmark position p of head h stands for chunk 2p + h (outliers removed in between).
    const chunkIds = Int32Array.from({ length: nKvHeads * nLandmarks }, (_, i) => 2 * (i % nLandmarks) + Math.floor(i / nLandmarks));
    const sel = selectChunks(backend, backend.upload(q, [1, nHeads * headDim]), backend.upload(lm, [nKvHeads, nLandmarks, headDim]), nHeads, count, scale);
    expect(sel.shape).toEqual([nKvHeads, count]);
    const pos = (await backend.read(sel)) as Int32Array;
    const ids = landmarkChunkIds(pos, chunkIds, nKvHeads, nLandmarks);
    const ref = groupMaxProbs(q, lm, nHeads, nKvHeads, nLandmarks, nLandmarks, headDim, scale);
    for (let g = 0; g < nKvHeads; g++) {
      // Random data in float32: the ranking could only flip on near-ties, and the margins here are far above 1e-6.
      const want = topIds(ref[g], count);
      expect(Array.from(pos.subarray(g * count, (g + 1) * count))).toEqual(want);
      expect(Array.from(ids.subarray(g * count, (g + 1) * count))).toEqual(want.map((p) => 2 * p + g));
    }
  });

  it('rejects a count above the landmark count', () => {
    const lm = backend.zeros([1, 4, 8]);
    expect(() => selectChunks(backend, backend.zeros([1, 8]), lm, 1, 5, 1)).toThrow(/count 5/);
  });

  it('landmarkChunkIds rejects positions outside the set', () => {
    expect(() => landmarkChunkIds(new Int32Array([0, 4]), new Int32Array(8), 2, 4)).toThrow(/position 4/);
  });
});

describe('tokenScores / selectTokens / massCount', () => {
  const nHeads = 4;
  const nKvHeads = 2;
  const headDim = 8;
  const capacity = 30;
  const scale = 1 / Math.sqrt(headDim);

  for (const kvLen of [1, 17, capacity]) {
    it(`scores only the first ${kvLen} rows`, async () => {
      const q = randomArray(nHeads * headDim, 3, 2);
      const keys = randomArray(nKvHeads * capacity * headDim, 4, 2);
      // Rows past kvLen hold huge keys: if they were scored they would take all the probability mass.
      for (let g = 0; g < nKvHeads; g++) keys.fill(50, (g * capacity + kvLen) * headDim, (g + 1) * capacity * headDim);
      const t = tokenScores(backend, backend.upload(q, [1, nHeads * headDim]), backend.upload(keys, [nKvHeads, capacity, headDim]), kvLen, nHeads, scale);
      expect(t.shape).toEqual([nKvHeads, kvLen]);
      const got = (await backend.read(t)) as Float32Array;
      const ref = groupMaxProbs(q, keys, nHeads, nKvHeads, capacity, kvLen, headDim, scale);
      // float32 softmax vs float64: probabilities <= 1 agree to a few ulps.
      for (let g = 0; g < nKvHeads; g++) for (let j = 0; j < kvLen; j++) expect(Math.abs(got[g * kvLen + j] - ref[g][j])).toBeLessThan(1e-6);
      const k = Math.min(5, kvLen);
      const sel = (await backend.read(selectTokens(backend, t, k))) as Int32Array;
      for (let g = 0; g < nKvHeads; g++) expect(Array.from(sel.subarray(g * k, (g + 1) * k))).toEqual(topIds(ref[g], k));
    });
  }

  it('massCount: each query head keeps at least the mass, judged from the group-max probabilities', () => {
    // Masses chosen away from float32 ties. Mass 0.75: head 0 may leave out 0.1 + 0.1 (<= 0.25) and keeps 2
    // tokens; head 1 may leave out only 0.1 and keeps 3.
    const p = new Float32Array([0.1, 0.5, 0.3, 0.1, 0.3, 0.1, 0.4, 0.2]);
    expect(massCount(p, 2, 0.75)).toBe(3);
    expect(massCount(p.subarray(0, 4), 1, 0.75)).toBe(2);
    expect(massCount(p.subarray(0, 4), 1, 0.45)).toBe(1);
    expect(massCount(p, 2, 1)).toBe(4);
    // Pooled over a group whose heads disagree (sum 1.6): leaving out at most 0.15 keeps 4 of 5 tokens,
    // where summing pooled values up to 0.85 would have stopped at 2 (0.5 + 0.5) and could lose 0.3 of a head.
    expect(massCount(new Float32Array([0.5, 0.5, 0.3, 0.2, 0.1]), 1, 0.85)).toBe(4);
    expect(() => massCount(p, 2, 0)).toThrow(/mass 0/);
  });
});
