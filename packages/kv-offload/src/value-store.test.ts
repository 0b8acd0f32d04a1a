import { mulberry32 as seeded } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { ValueStore } from './value-store.js';

/** Value of token t, head h, dim e, so every read can be checked without keeping a copy. */
const val = (t: number, h: number, e: number) => t * 1000 + h * 100 + e;

function headMajor(nKv: number, rowStride: number, d: number, first = 0): Float32Array {
  const a = new Float32Array(nKv * rowStride * d);
  for (let h = 0; h < nKv; h++) for (let t = 0; t < rowStride; t++) for (let e = 0; e < d; e++) a[(h * rowStride + t) * d + e] = val(first + t, h, e);
  return a;
}

describe('ValueStore (float32)', () => {
  const nKvHeads = 2;
  const headDim = 3;
  const chunkSize = 4;

  it('stores head-major prompt rows and token-major generated rows chunk by chunk, growing past its capacity', () => {
    const store = new ValueStore({ nKvHeads, headDim, chunkSize, initialCapacity: 4 });
    // A dense cache of capacity 16 holding 10 prompt tokens.
    store.appendHeadMajor(headMajor(nKvHeads, 16, headDim), 16, 10);
    for (let t = 10; t < 13; t++) {
      const row = new Float32Array(nKvHeads * headDim);
      for (let h = 0; h < nKvHeads; h++) for (let e = 0; e < headDim; e++) row[h * headDim + e] = val(t, h, e);
      store.appendTokenMajor(row, 1);
    }
    expect(store.length).toBe(13);
    expect(store.chunkCount).toBe(4);
    expect(store.fullChunks).toBe(3);
    expect(store.bytes).toBe(13 * nKvHeads * headDim * 4);
    const out = new Float32Array(2 + chunkSize * headDim).fill(-1);
    for (let h = 0; h < nKvHeads; h++) {
      for (let c = 0; c < 4; c++) {
        const rows = store.readChunk(h, c, out, 2);
        expect(rows).toBe(c < 3 ? 4 : 1);
        expect(out[0]).toBe(-1); // nothing written before the offset
        for (let j = 0; j < chunkSize; j++) {
          for (let e = 0; e < headDim; e++) expect(out[2 + j * headDim + e]).toBe(j < rows ? val(c * chunkSize + j, h, e) : 0);
        }
      }
    }
  });

  it('appends a row range of a head-major cache', () => {
    const store = new ValueStore({ nKvHeads, headDim, chunkSize });
    store.appendHeadMajor(headMajor(nKvHeads, 12, headDim), 12, 4, 8);
    const out = new Float32Array(chunkSize * headDim);
    store.readChunk(1, 0, out);
    expect(out[0]).toBe(val(8, 1, 0));
    expect(() => store.appendHeadMajor(headMajor(nKvHeads, 12, headDim), 12, 5, 8)).toThrow(/rows 8..13/);
  });

  it('rejects reads outside the stored chunks and bad options', () => {
    const store = new ValueStore({ nKvHeads, headDim, chunkSize });
    expect(() => store.readChunk(0, 0, new Float32Array(12))).toThrow(/chunk 0/);
    expect(() => new ValueStore({ nKvHeads, headDim, chunkSize: 0 })).toThrow(/chunkSize/);
    expect(() => new ValueStore({ nKvHeads, headDim, chunkSize, quantize: 'int4' as 'int8' })).toThrow(/quantize/);
  });
});

describe('ValueStore (int8)', () => {
  it('keeps each value within half a quantization step of its chunk scale; about 4x smaller', () => {
    const nKvHeads = 2;
    const headDim = 64;
    const chunkSize = 8;
    const tokens = 8 * 50 + 3; // 50 full chunks and a partial one
    const r = seeded(7);
    const src = new Float32Array(nKvHeads * tokens * headDim);
    // Per-chunk magnitudes that vary by 100x, so a shared scale would be visibly worse than one per chunk.
    for (let i = 0; i < src.length; i++) {
      const chunk = Math.floor((i / headDim) % tokens / chunkSize);
      src[i] = (2 * r() - 1) * (0.05 + (chunk % 10));
    }
    const store = new ValueStore({ nKvHeads, headDim, chunkSize, quantize: 'int8' });
    store.appendHeadMajor(src, tokens, tokens);
    const out = new Float32Array(chunkSize * headDim);
    let sqErr = 0;
    let sq = 0;
    let worstStepRatio = 0;
    for (let h = 0; h < nKvHeads; h++) {
      for (let c = 0; c < store.chunkCount; c++) {
        const rows = store.readChunk(h, c, out);
        let max = 0;
        for (let i = 0; i < rows * headDim; i++) max = Math.max(max, Math.abs(src[(h * tokens + c * chunkSize) * headDim + i]));
        const step = max / 127;
        for (let i = 0; i < rows * headDim; i++) {
          const want = src[(h * tokens + c * chunkSize) * headDim + i];
          const err = Math.abs(out[i] - want);
          if (c === 50) expect(err).toBe(0); // the partial chunk is still float32
          else worstStepRatio = Math.max(worstStepRatio, err / step);
          sqErr += err * err;
          sq += want * want;
        }
      }
    }
    // Rounding to the nearest code: |error| <= step / 2; float32 rounding of the scale adds ~1e-7 relative.
    expect(worstStepRatio).toBeLessThanOrEqual(0.5 + 1e-5);
    expect(worstStepRatio).toBeGreaterThan(0.4); // it did quantize
    // Uniform data: RMS error = step/sqrt(12) against an RMS of max/sqrt(3), i.e. 1/254 = 0.39% relative.
    const rel = Math.sqrt(sqErr / sq);
    expect(rel).toBeGreaterThan(0.003);
    expect(rel).toBeLessThan(0.005);
    const f32Bytes = tokens * nKvHeads * headDim * 4;
    expect(store.bytes).toBe(50 * nKvHeads * (chunkSize * headDim + 4) + 3 * nKvHeads * headDim * 4);
    expect(store.bytes / f32Bytes).toBeLessThan(0.27);
  });

  it('quantizes a chunk once generated tokens fill it', () => {
    const store = new ValueStore({ nKvHeads: 1, headDim: 2, chunkSize: 2, quantize: 'int8' });
    store.appendTokenMajor(new Float32Array([1, -0.5]), 1);
    const out = new Float32Array(4);
    store.readChunk(0, 0, out);
    expect(Array.from(out)).toEqual([1, -0.5, 0, 0]);
    store.appendTokenMajor(new Float32Array([0.25, 0.3]), 1);
    store.readChunk(0, 0, out);
    // scale 1/127: 0.3 -> code 38 -> 0.2992..., an error of 0.0008 < step/2 = 0.0039
    expect(out[0]).toBeCloseTo(1, 6);
    expect(Math.abs(out[3] - 0.3)).toBeLessThan(0.5 / 127);
    expect(out[3]).not.toBe(Math.fround(0.3));
    expect(store.bytes).toBe(4 + 4);
  });
});
