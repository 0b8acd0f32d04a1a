// The landmark set ShadowKV scores at decode time: landmarks of every chunk except the outliers.
import { ShapeError } from '@shadowkv/core';
import { chunkLandmarks } from './chunk-landmarks.js';
import type { HeadMajorRows } from './head-major-rows.js';
import { chunkMinCosine, outlierChunks } from './outlier-chunks.js';

/** Landmarks without the outlier chunks, plus the mapping back to chunk ids. */
export interface LandmarkSet {
  /** Landmarks of the non-outlier chunks, ascending chunk order per head: [nKvHeads, nLandmarks, headDim]. */
  landmarks: Float32Array;
  /** Chunk id of each landmark: [nKvHeads, nLandmarks]. */
  chunkIds: Int32Array;
  /** Outlier chunk ids, ascending: [nKvHeads, nOutliers]. */
  outlierChunkIds: Int32Array;
  nKvHeads: number;
  nLandmarks: number;
  nOutliers: number;
  headDim: number;
}

/**
 * Drops the `outliers` chunks per head from `landmarks` [nKvHeads, nChunks, headDim].
 * @param outlierIds ascending chunk ids [nKvHeads, nOutliers]
 */
export function removeOutliers(landmarks: Float32Array, outlierIds: Int32Array, nKvHeads: number, nChunks: number, headDim: number): LandmarkSet {
  const nOutliers = outlierIds.length / nKvHeads;
  if (!Number.isInteger(nOutliers) || nOutliers > nChunks) {
    throw new ShapeError('removeOutliers', `${outlierIds.length} outlier ids do not split into ${nKvHeads} heads of at most ${nChunks} chunks`);
  }
  const nLandmarks = nChunks - nOutliers;
  const out = new Float32Array(nKvHeads * nLandmarks * headDim); // [nKvHeads, nLandmarks, headDim]
  const chunkIds = new Int32Array(nKvHeads * nLandmarks); // [nKvHeads, nLandmarks]
  for (let h = 0; h < nKvHeads; h++) {
    let next = 0; // position in this head's ascending outlier list
    let n = 0;
    for (let c = 0; c < nChunks; c++) {
      if (next < nOutliers && outlierIds[h * nOutliers + next] === c) {
        next++;
        continue;
      }
      chunkIds[h * nLandmarks + n] = c;
      out.set(landmarks.subarray((h * nChunks + c) * headDim, (h * nChunks + c + 1) * headDim), (h * nLandmarks + n) * headDim);
      n++;
    }
    if (next !== nOutliers) throw new ShapeError('removeOutliers', `outlier ids of head ${h} are not ascending and unique within [0, ${nChunks})`);
  }
  return { landmarks: out, chunkIds, outlierChunkIds: outlierIds, nKvHeads, nLandmarks, nOutliers, headDim };
}

/**
 * ShadowKV prefill steps 4-5 on the host: landmarks of the first `nChunks` chunks of `keys`, the `outliers`
 * chunks per head with the lowest landmark/key cosine, and the landmark set without them.
 *
 * @param keys post-RoPE keys [nKvHeads, rowStride, headDim]
 */
export function buildLandmarkSet(keys: HeadMajorRows, chunkSize: number, nChunks: number, outliers: number): LandmarkSet {
  const all = chunkLandmarks(keys, chunkSize, nChunks);
  const minCos = chunkMinCosine(keys, all, chunkSize, nChunks);
  const outlierIds = outlierChunks(minCos, keys.nKvHeads, nChunks, outliers);
  return removeOutliers(all, outlierIds, keys.nKvHeads, nChunks, keys.headDim);
}
