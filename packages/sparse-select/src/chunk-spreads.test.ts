// Spread-aware chunk scores: the per-dimension key range of each chunk, Quest's bound on its best key at weight 1,
// and the device path (spreadLandmarks + spreadQuery + landmarkScores) computes that logit.
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { chunkLandmarks } from './chunk-landmarks.js';
import { chunkSpreads, spreadLandmarks, spreadQuery } from './chunk-spreads.js';
import { buildLandmarkSet } from './landmark-set.js';
import { randomArray } from './random-data.test-support.js';

const nKvHeads = 2;
const headDim = 8;
const chunkSize = 4;
const nChunks = 10;
const rowStride = nChunks * chunkSize + 3; // the stride larger than the chunks used

describe('chunkSpreads', () => {
  const data = randomArray(nKvHeads * rowStride * headDim, 5);
  const keys = { data, nKvHeads, rowStride, headDim };
  const set = buildLandmarkSet(keys, chunkSize, nChunks, 2);
  const { centers, halfWidths } = chunkSpreads(keys, set.chunkIds, chunkSize);
  const key = (h: number, c: number, j: number, e: number) => data[(h * rowStride + c * chunkSize + j) * headDim + e];

  it("is the middle and half width of each landmark chunk's key range, per head and dimension", () => {
    for (let h = 0; h < nKvHeads; h++) {
      for (let i = 0; i < set.nLandmarks; i++) {
        const c = set.chunkIds[h * set.nLandmarks + i];
        for (let e = 0; e < headDim; e++) {
          const v = Array.from({ length: chunkSize }, (_, j) => key(h, c, j, e));
          expect(centers[(h * set.nLandmarks + i) * headDim + e]).toBe(Math.fround((Math.min(...v) + Math.max(...v)) / 2));
          expect(halfWidths[(h * set.nLandmarks + i) * headDim + e]).toBe(Math.fround((Math.max(...v) - Math.min(...v)) / 2));
        }
      }
    }
  });

  it("makes q·center + Σ|q_d|·halfWidth_d Quest's bound Σ_d max(q_d·min_d, q_d·max_d), above every key of the chunk", () => {
    const q = randomArray(headDim, 9, 3);
    for (let h = 0; h < nKvHeads; h++) {
      for (let i = 0; i < set.nLandmarks; i++) {
        const c = set.chunkIds[h * set.nLandmarks + i];
        let bound = 0;
        let quest = 0;
        for (let e = 0; e < headDim; e++) {
          const o = (h * set.nLandmarks + i) * headDim + e;
          bound += q[e] * centers[o] + Math.abs(q[e]) * halfWidths[o];
          const v = Array.from({ length: chunkSize }, (_, j) => key(h, c, j, e));
          quest += Math.max(q[e] * Math.min(...v), q[e] * Math.max(...v));
        }
        expect(bound).toBeCloseTo(quest, 5);
        for (let j = 0; j < chunkSize; j++) {
          let s = 0;
          for (let e = 0; e < headDim; e++) s += q[e] * key(h, c, j, e);
          expect(s).toBeLessThanOrEqual(bound + 1e-5);
        }
      }
    }
  });

  it('ranks a chunk holding one matching key above chunks of mild matches, where the mean does not', () => {
    // Chunk 0: one key = 4·u and three keys = -u (mean 0.25·u); chunk 1: four keys 0.5·u (mean 0.5·u). q = u.
    const d = 4;
    const rows = new Float32Array(8 * d);
    [4, -1, -1, -1, 0.5, 0.5, 0.5, 0.5].forEach((s, t) => (rows[t * d] = s));
    const k = { data: rows, nKvHeads: 1, rowStride: 8, headDim: d };
    const mean = chunkLandmarks(k, 4, 2);
    const b = chunkSpreads(k, Int32Array.from([0, 1]), 4);
    const score = (c: number, w: number) => b.centers[c * d] + w * b.halfWidths[c * d];
    expect(mean[0]).toBeLessThan(mean[d]); // the mean prefers the mild chunk
    expect(score(0, 1)).toBeGreaterThan(score(1, 1)); // the bound finds the strong key (4 vs 0.5)
    expect(score(0, 1)).toBeCloseTo(4, 6);
    expect(score(0, 0.5)).toBeGreaterThan(score(1, 0.5)); // half the width still does (2.75 vs 0.5)
  });

  it('indexes folded chunks from firstChunk and rejects ids before it or past the rows', () => {
    const a = chunkSpreads(keys, Int32Array.from([7, 8, 7, 8]), chunkSize, 7);
    const b = chunkSpreads(keys, Int32Array.from([0, 1, 0, 1]), chunkSize);
    expect(Array.from(a.centers)).toEqual(Array.from(b.centers));
    expect(Array.from(a.halfWidths)).toEqual(Array.from(b.halfWidths));
    expect(() => chunkSpreads(keys, Int32Array.from([6, 8, 7, 8]), chunkSize, 7)).toThrow(/before the first chunk/);
    expect(() => chunkSpreads(keys, Int32Array.from([0, 11, 0, 1]), chunkSize)).toThrow(/rows requested/);
  });
});

describe('spreadLandmarks + spreadQuery + landmarkScores', () => {
  it('score softmax(q·landmark + weight·Σ|q_d|·dev_d) per query head, max over the group (CPU reference)', async () => {
    const be = cpu();
    const nHeads = 4;
    const nL = 6;
    const lm = randomArray(nKvHeads * nL * headDim, 21);
    const dev = randomArray(nKvHeads * nL * headDim, 22).map(Math.abs);
    const q = randomArray(nHeads * headDim, 23, 2);
    const weight = 0.5;
    const scale = 0.3;
    const qt = await spreadQuery(be, be.upload(q, [1, nHeads * headDim]), nHeads);
    const lt = be.upload(spreadLandmarks(lm, dev, headDim, weight), [nKvHeads, nL, 2 * headDim]);
    const got = (await be.read(be.landmarkScores(qt, lt, nHeads, scale))) as Float32Array;
    const group = nHeads / nKvHeads;
    for (let h = 0; h < nKvHeads; h++) {
      const want = new Array(nL).fill(0);
      for (let g = 0; g < group; g++) {
        const qo = (h * group + g) * headDim;
        const logits = Array.from({ length: nL }, (_, i) => {
          let s = 0;
          for (let e = 0; e < headDim; e++) s += q[qo + e] * lm[(h * nL + i) * headDim + e] + weight * Math.abs(q[qo + e]) * dev[(h * nL + i) * headDim + e];
          return s * scale;
        });
        const m = Math.max(...logits);
        const z = logits.reduce((a, x) => a + Math.exp(x - m), 0);
        logits.forEach((x, i) => (want[i] = Math.max(want[i], Math.exp(x - m) / z)));
      }
      // f32 dot products of 16 terms and an f32 softmax: a few ulps of values <= 1.
      for (let i = 0; i < nL; i++) expect(Math.abs(got[h * nL + i] - want[i])).toBeLessThan(1e-6);
    }
  });
});

describe('grouped spreads', () => {
  it('score q·center + weight·Σ_g (Σ_{d in g} |q_d|)·max_{d in g} halfWidth_d: still above every key at weight 1, below the per-dimension bound + the group slack', async () => {
    const be = cpu();
    const nHeads = 2;
    const nKv = 1;
    const data = randomArray(nKv * 32 * headDim, 41);
    const keys = { data, nKvHeads: nKv, rowStride: 32, headDim };
    const ids = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    const { centers, halfWidths } = chunkSpreads(keys, ids, chunkSize);
    const q = randomArray(nHeads * headDim, 42, 2);
    const groups = 2;
    const lt = be.upload(spreadLandmarks(centers, halfWidths, headDim, 1, groups), [nKv, 8, headDim + groups]);
    const qt = await spreadQuery(be, be.upload(q, [1, nHeads * headDim]), nHeads, groups);
    expect(qt.shape).toEqual([1, nHeads * (headDim + groups)]);
    const qx = (await be.read(qt)) as Float32Array;
    const lx = (await be.read(lt)) as Float32Array;
    for (let h = 0; h < nHeads; h++) {
      for (let c = 0; c < 8; c++) {
        let logit = 0;
        for (let e = 0; e < headDim + groups; e++) logit += qx[h * (headDim + groups) + e] * lx[c * (headDim + groups) + e];
        let exact = 0;
        for (let e = 0; e < headDim; e++) exact += q[h * headDim + e] * centers[c * headDim + e] + Math.abs(q[h * headDim + e]) * halfWidths[c * headDim + e];
        expect(logit).toBeGreaterThanOrEqual(exact - 1e-5); // group max >= each dimension's half width
        for (let j = 0; j < chunkSize; j++) {
          let s = 0;
          for (let e = 0; e < headDim; e++) s += q[h * headDim + e] * data[(c * chunkSize + j) * headDim + e];
          expect(s).toBeLessThanOrEqual(logit + 1e-5);
        }
      }
    }
    expect(() => spreadLandmarks(centers, halfWidths, headDim, 1, 3)).toThrow(/groups 3 must divide headDim 8/);
  });
});
