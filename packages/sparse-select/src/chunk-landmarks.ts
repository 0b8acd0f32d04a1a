// Chunk landmarks (ShadowKV prefill step 4): the mean post-RoPE key of each chunk, per KV head.
import { ShapeError } from '@shadowkv/core';
import { checkHeadMajorRows, type HeadMajorRows } from './head-major-rows.js';

/**
 * Mean of the keys of each of the first `nChunks` chunks of `chunkSize` rows, per KV head.
 * Accumulates in float64 so that the mean of long chunks does not depend on summation order.
 * O(nKvHeads * nChunks * chunkSize * headDim) with one scratch row.
 *
 * @param keys post-RoPE keys [nKvHeads, rowStride, headDim]
 * @returns landmarks [nKvHeads, nChunks, headDim]
 */
export function chunkLandmarks(keys: HeadMajorRows, chunkSize: number, nChunks: number): Float32Array {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new ShapeError('chunkLandmarks', `chunkSize ${chunkSize} must be a positive integer`);
  checkHeadMajorRows('chunkLandmarks', keys, nChunks * chunkSize);
  const { data, nKvHeads, rowStride, headDim } = keys;
  const out = new Float32Array(nKvHeads * nChunks * headDim); // [nKvHeads, nChunks, headDim]
  const acc = new Float64Array(headDim);
  const inv = 1 / chunkSize;
  for (let h = 0; h < nKvHeads; h++) {
    for (let c = 0; c < nChunks; c++) {
      acc.fill(0);
      let row = (h * rowStride + c * chunkSize) * headDim;
      for (let j = 0; j < chunkSize; j++, row += headDim) {
        for (let e = 0; e < headDim; e++) acc[e] += data[row + e];
      }
      const o = (h * nChunks + c) * headDim;
      for (let e = 0; e < headDim; e++) out[o + e] = acc[e] * inv;
    }
  }
  return out;
}
