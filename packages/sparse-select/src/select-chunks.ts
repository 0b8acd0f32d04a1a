// Decode-time chunk selection (ShadowKV decode step 2) with backend ops, and the host mapping to chunk ids.
import { ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';

/**
 * Scores the landmarks with `softmax(q · landmarkᵀ · scale)` per query head, takes the max over the query
 * heads of each KV head and keeps the `count` best per KV head (backend.landmarkScores + backend.topK).
 *
 * @param q post-RoPE query of one token [1, nHeads*headDim]
 * @param landmarks [nKvHeads, nLandmarks, headDim]
 * @returns i32 [nKvHeads, count]: positions in the landmark set, ascending (map with landmarkChunkIds)
 */
export function selectChunks(backend: KernelBackend, q: Tensor, landmarks: Tensor, nHeads: number, count: number, scale: number): Tensor {
  const nLandmarks = landmarks.shape[1];
  if (!Number.isInteger(count) || count < 1 || count > nLandmarks) {
    throw new ShapeError('selectChunks', `count ${count} must be an integer in [1, ${nLandmarks}] (the landmark count)`);
  }
  const scores = backend.landmarkScores(q, landmarks, nHeads, scale); // [nKvHeads, nLandmarks]
  const top = backend.topK(scores, count); // i32 [nKvHeads, count]
  backend.dispose(scores);
  return top;
}

/**
 * Maps landmark positions [nKvHeads, count] to chunk ids through `chunkIds` [nKvHeads, nLandmarks].
 * Ascending positions give ascending chunk ids, since the landmark set is in chunk order.
 */
export function landmarkChunkIds(positions: Int32Array, chunkIds: Int32Array, nKvHeads: number, nLandmarks: number, out?: Int32Array): Int32Array {
  const count = positions.length / nKvHeads;
  if (!Number.isInteger(count)) throw new ShapeError('landmarkChunkIds', `${positions.length} positions do not split into ${nKvHeads} heads`);
  const res = out ?? new Int32Array(positions.length);
  for (let h = 0; h < nKvHeads; h++) {
    for (let s = 0; s < count; s++) {
      const p = positions[h * count + s];
      if (p < 0 || p >= nLandmarks) throw new ShapeError('landmarkChunkIds', `position ${p} of head ${h} is outside [0, ${nLandmarks})`);
      res[h * count + s] = chunkIds[h * nLandmarks + p];
    }
  }
  return res;
}
