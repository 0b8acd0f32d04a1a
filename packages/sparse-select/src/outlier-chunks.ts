// Outlier chunks (ShadowKV prefill step 5): chunks whose keys a single landmark represents worst.
import { ShapeError } from '@shadowkv/core';
import { checkHeadMajorRows, type HeadMajorRows } from './head-major-rows.js';

/** Below this product of norms a cosine similarity is taken as 0 (a zero key or landmark has no direction). */
const NORM_FLOOR = 1e-12;

/**
 * For each chunk and KV head, the smallest cosine similarity between the chunk's landmark and any of its keys.
 * A low value means some key of the chunk points away from the landmark, so scoring the chunk by its
 * landmark would misjudge that key.
 *
 * @param keys post-RoPE keys [nKvHeads, rowStride, headDim]
 * @param landmarks [nKvHeads, nChunks, headDim] from chunkLandmarks
 * @returns [nKvHeads, nChunks]
 */
export function chunkMinCosine(keys: HeadMajorRows, landmarks: Float32Array, chunkSize: number, nChunks: number): Float32Array {
  checkHeadMajorRows('chunkMinCosine', keys, nChunks * chunkSize);
  const { data, nKvHeads, rowStride, headDim } = keys;
  if (landmarks.length !== nKvHeads * nChunks * headDim) {
    throw new ShapeError('chunkMinCosine', `landmarks have ${landmarks.length} floats, [${nKvHeads}, ${nChunks}, ${headDim}] needs ${nKvHeads * nChunks * headDim}`);
  }
  const out = new Float32Array(nKvHeads * nChunks); // [nKvHeads, nChunks]
  for (let h = 0; h < nKvHeads; h++) {
    for (let c = 0; c < nChunks; c++) {
      const lo = (h * nChunks + c) * headDim;
      let ll = 0;
      for (let e = 0; e < headDim; e++) ll += landmarks[lo + e] * landmarks[lo + e];
      let min = Infinity;
      let row = (h * rowStride + c * chunkSize) * headDim;
      for (let j = 0; j < chunkSize; j++, row += headDim) {
        let dot = 0;
        let kk = 0;
        for (let e = 0; e < headDim; e++) {
          const k = data[row + e];
          dot += k * landmarks[lo + e];
          kk += k * k;
        }
        const norm = Math.sqrt(ll * kk);
        const cos = norm > NORM_FLOOR ? dot / norm : 0;
        if (cos < min) min = cos;
      }
      out[h * nChunks + c] = min;
    }
  }
  return out;
}

/**
 * The `count` chunks with the lowest minimum cosine per KV head, in ascending chunk order.
 * Ties go to the lower chunk id, so the choice is deterministic.
 *
 * @param minCosine [nKvHeads, nChunks] from chunkMinCosine
 * @returns chunk ids [nKvHeads, count]
 */
export function outlierChunks(minCosine: Float32Array, nKvHeads: number, nChunks: number, count: number): Int32Array {
  if (minCosine.length !== nKvHeads * nChunks) {
    throw new ShapeError('outlierChunks', `minCosine has ${minCosine.length} values, [${nKvHeads}, ${nChunks}] needs ${nKvHeads * nChunks}`);
  }
  if (!Number.isInteger(count) || count < 0 || count > nChunks) {
    throw new ShapeError('outlierChunks', `count ${count} must be an integer in [0, ${nChunks}]`);
  }
  const out = new Int32Array(nKvHeads * count); // [nKvHeads, count]
  const order = new Int32Array(nChunks);
  for (let h = 0; h < nKvHeads; h++) {
    const base = h * nChunks;
    for (let c = 0; c < nChunks; c++) order[c] = c;
    order.sort((a, b) => minCosine[base + a] - minCosine[base + b] || a - b);
    const chosen = order.subarray(0, count).slice().sort();
    out.set(chosen, h * count);
  }
  return out;
}
