import { describe, expect, it } from 'vitest';
import { chunkLandmarks } from './chunk-landmarks.js';
import { buildLandmarkSet, removeOutliers } from './landmark-set.js';
import { chunkMinCosine, outlierChunks } from './outlier-chunks.js';
import { randomArray } from './random-data.test-support.js';

function naiveMean(data: Float32Array, h: number, c: number, rowStride: number, chunkSize: number, headDim: number): number[] {
  const out: number[] = [];
  for (let e = 0; e < headDim; e++) {
    let s = 0;
    for (let j = 0; j < chunkSize; j++) s += data[(h * rowStride + c * chunkSize + j) * headDim + e];
    out.push(s / chunkSize);
  }
  return out;
}

describe('chunkLandmarks', () => {
  // Edge sizes: chunk 1, a chunk size that does not divide the stride, the stride larger than the used rows.
  for (const [nKvHeads, rowStride, headDim, chunkSize, nChunks] of [
    [1, 8, 4, 1, 8],
    [2, 37, 16, 8, 4],
    [3, 100, 8, 7, 13],
  ]) {
    it(`is the per-chunk mean (heads ${nKvHeads}, stride ${rowStride}, chunk ${chunkSize}, chunks ${nChunks})`, () => {
      const data = randomArray(nKvHeads * rowStride * headDim, 11 + nChunks);
      const lm = chunkLandmarks({ data, nKvHeads, rowStride, headDim }, chunkSize, nChunks);
      expect(lm.length).toBe(nKvHeads * nChunks * headDim);
      for (let h = 0; h < nKvHeads; h++) {
        for (let c = 0; c < nChunks; c++) {
          const want = naiveMean(data, h, c, rowStride, chunkSize, headDim);
          // float32 storage of a float64 mean: half an ulp of values <= 1 is 6e-8.
          for (let e = 0; e < headDim; e++) expect(Math.abs(lm[(h * nChunks + c) * headDim + e] - want[e])).toBeLessThan(1e-7);
        }
      }
    });
  }

  it('rejects chunks that run past the cache', () => {
    const data = new Float32Array(2 * 10 * 4);
    expect(() => chunkLandmarks({ data, nKvHeads: 2, rowStride: 10, headDim: 4 }, 4, 3)).toThrow(/12 rows requested/);
  });
});

describe('chunkMinCosine / outlierChunks', () => {
  const nKvHeads = 2;
  const chunkSize = 4;
  const nChunks = 6;
  const headDim = 8;
  const rowStride = nChunks * chunkSize;

  /** Keys that all point along one direction (cosine 1), except planted chunks with one reversed key. */
  function planted(reversed: number[][]): Float32Array {
    const data = new Float32Array(nKvHeads * rowStride * headDim);
    for (let h = 0; h < nKvHeads; h++) {
      for (let t = 0; t < rowStride; t++) {
        for (let e = 0; e < headDim; e++) data[(h * rowStride + t) * headDim + e] = 1 + 0.5 * (t % 3) + (e === h ? 2 : 0);
      }
      for (const c of reversed[h]) {
        const o = (h * rowStride + c * chunkSize + 1) * headDim;
        for (let e = 0; e < headDim; e++) data[o + e] = -data[o + e];
      }
    }
    return data;
  }

  it('finds chunks whose keys disagree with their landmark', () => {
    const data = planted([[4, 1], [3]]);
    const keys = { data, nKvHeads, rowStride, headDim };
    const lm = chunkLandmarks(keys, chunkSize, nChunks);
    const minCos = chunkMinCosine(keys, lm, chunkSize, nChunks);
    // Unplanted chunks: keys are positive multiples of nearly the same vector, cosine close to 1.
    expect(minCos[0 * nChunks + 0]).toBeGreaterThan(0.99);
    expect(minCos[1 * nChunks + 4]).toBeGreaterThan(0.99);
    // A reversed key has cosine < 0 with the mean of the other three.
    expect(minCos[0 * nChunks + 4]).toBeLessThan(0);
    expect(minCos[1 * nChunks + 3]).toBeLessThan(0);
    expect(Array.from(outlierChunks(minCos, nKvHeads, nChunks, 2).subarray(0, 2))).toEqual([1, 4]);
    expect(outlierChunks(minCos, nKvHeads, nChunks, 1)[1]).toBe(3);
  });

  it('breaks ties by the lower chunk id and returns ascending ids', () => {
    const minCos = new Float32Array([0.5, 0.1, 0.1, 0.9, 0.1, 0.2]);
    expect(Array.from(outlierChunks(minCos, 1, 6, 2))).toEqual([1, 2]);
    expect(Array.from(outlierChunks(minCos, 1, 6, 4))).toEqual([1, 2, 4, 5]);
    expect(() => outlierChunks(minCos, 1, 6, 7)).toThrow(/count 7/);
  });

  it('treats a zero key as cosine 0 rather than NaN', () => {
    const data = planted([[], []]);
    data.fill(0, 0, headDim); // head 0, token 0
    const keys = { data, nKvHeads, rowStride, headDim };
    const minCos = chunkMinCosine(keys, chunkLandmarks(keys, chunkSize, nChunks), chunkSize, nChunks);
    expect(minCos[0]).toBe(0);
  });
});

describe('landmark set', () => {
  it('removes the outlier chunks and keeps the chunk-id mapping', () => {
    const nKvHeads = 2;
    const nChunks = 5;
    const headDim = 3;
    const lm = new Float32Array(nKvHeads * nChunks * headDim);
    for (let i = 0; i < lm.length; i++) lm[i] = i; // landmark (h, c) starts at (h*5 + c)*3
    const set = removeOutliers(lm, new Int32Array([0, 3, 2, 4]), nKvHeads, nChunks, headDim);
    expect(set.nLandmarks).toBe(3);
    expect(Array.from(set.chunkIds)).toEqual([1, 2, 4, 0, 1, 3]);
    expect(Array.from(set.landmarks.subarray(0, 3))).toEqual([3, 4, 5]);
    expect(Array.from(set.landmarks.subarray(9, 12))).toEqual([15, 16, 17]); // head 1, chunk 0
    expect(() => removeOutliers(lm, new Int32Array([3, 0, 2, 4]), nKvHeads, nChunks, headDim)).toThrow(/not ascending/);
  });

  it('buildLandmarkSet: outliers and landmarks partition the chunks', () => {
    const nKvHeads = 2;
    const rowStride = 200;
    const headDim = 16;
    const data = randomArray(nKvHeads * rowStride * headDim, 5);
    const set = buildLandmarkSet({ data, nKvHeads, rowStride, headDim }, 8, 24, 5);
    for (let h = 0; h < nKvHeads; h++) {
      const all = [...set.chunkIds.subarray(h * 19, (h + 1) * 19), ...set.outlierChunkIds.subarray(h * 5, (h + 1) * 5)].sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 24 }, (_, i) => i));
    }
  });
});
