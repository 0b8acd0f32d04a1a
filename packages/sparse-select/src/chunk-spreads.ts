// Chunk spreads: the range a chunk's keys span per dimension, so that a chunk score can bound the best key in the
// chunk instead of averaging it away (issue 15, docs/shadowkv-accuracy.md section 8).
import { ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';
import { checkHeadMajorRows, type HeadMajorRows } from './head-major-rows.js';

/** Per landmark chunk and dimension, the middle and half the width of the range its keys span. */
export interface ChunkBounds {
  /** (min_j k_d + max_j k_d) / 2 [nKvHeads, nLandmarks, headDim] */
  centers: Float32Array;
  /** (max_j k_d - min_j k_d) / 2 [nKvHeads, nLandmarks, headDim] */
  halfWidths: Float32Array;
}

/**
 * The per-dimension range of each chunk's keys as center and half width (Quest's min/max bound, in the form one
 * dot product scores): `q·center + Σ_d |q_d|·halfWidth_d = Σ_d max(q_d·min_d, q_d·max_d) >= q·k` for every key
 * k of the chunk, with equality per dimension, so a chunk holding one key that matches q scores at least that
 * key's logit, where the mean divides its excess by chunkSize.
 *
 * @param keys post-RoPE keys [nKvHeads, rowStride, headDim]; row 0 is chunk `firstChunk`'s first row
 * @param chunkIds chunk id of each landmark [nKvHeads, nLandmarks]
 */
export function chunkSpreads(keys: HeadMajorRows, chunkIds: Int32Array, chunkSize: number, firstChunk = 0): ChunkBounds {
  const { data, nKvHeads, rowStride, headDim } = keys;
  const nLandmarks = chunkIds.length / nKvHeads;
  if (!Number.isInteger(nLandmarks)) throw new ShapeError('chunkSpreads', `${chunkIds.length} chunk ids do not split into ${nKvHeads} KV heads`);
  let last = -1;
  for (const c of chunkIds) last = Math.max(last, c - firstChunk);
  checkHeadMajorRows('chunkSpreads', keys, (last + 1) * chunkSize);
  const centers = new Float32Array(nKvHeads * nLandmarks * headDim);
  const halfWidths = new Float32Array(centers.length);
  const lo = new Float32Array(headDim);
  const hi = new Float32Array(headDim);
  for (let h = 0; h < nKvHeads; h++) {
    for (let i = 0; i < nLandmarks; i++) {
      const c = chunkIds[h * nLandmarks + i] - firstChunk;
      if (c < 0) throw new ShapeError('chunkSpreads', `chunk id ${c + firstChunk} of head ${h} is before the first chunk ${firstChunk}`);
      lo.fill(Infinity);
      hi.fill(-Infinity);
      let row = (h * rowStride + c * chunkSize) * headDim;
      for (let j = 0; j < chunkSize; j++, row += headDim) {
        for (let e = 0; e < headDim; e++) {
          const k = data[row + e];
          if (k < lo[e]) lo[e] = k;
          if (k > hi[e]) hi[e] = k;
        }
      }
      const o = (h * nLandmarks + i) * headDim;
      for (let e = 0; e < headDim; e++) {
        centers[o + e] = (lo[e] + hi[e]) / 2;
        halfWidths[o + e] = (hi[e] - lo[e]) / 2;
      }
    }
  }
  return { centers, halfWidths };
}

/**
 * The selection vectors of spread-aware chunk scores: per landmark `[center | weight·halfWidth]`, [nKvHeads,
 * nLandmarks, 2*headDim]. Scored by `landmarkScores` against `spreadQuery(q)` = `[q_h | |q_h|]` per head, the logit
 * is `q·center + weight·Σ_d |q_d|·halfWidth_d`: the middle of the chunk's range at weight 0, Quest's upper bound of
 * the chunk's best key logit at weight 1.
 */
export function spreadLandmarks(landmarks: Float32Array, dev: Float32Array, headDim: number, weight: number): Float32Array {
  if (dev.length !== landmarks.length || landmarks.length % headDim !== 0) {
    throw new ShapeError('spreadLandmarks', `centers [${landmarks.length}] and half widths [${dev.length}] must both be [.., ${headDim}]`);
  }
  const n = landmarks.length / headDim;
  const out = new Float32Array(2 * landmarks.length);
  for (let i = 0; i < n; i++) {
    out.set(landmarks.subarray(i * headDim, (i + 1) * headDim), 2 * i * headDim);
    for (let e = 0; e < headDim; e++) out[(2 * i + 1) * headDim + e] = weight * dev[i * headDim + e];
  }
  return out;
}

/**
 * The query of spread-aware chunk scores, `[q_h | |q_h|]` per query head: [1, nHeads*2*headDim]. One read of q
 * (nHeads*headDim floats) and one upload; on the CPU backends both are copies.
 */
export async function spreadQuery(backend: KernelBackend, q: Tensor, nHeads: number): Promise<Tensor> {
  const x = (await backend.read(q)) as Float32Array;
  const headDim = x.length / nHeads;
  if (!Number.isInteger(headDim)) throw new ShapeError('spreadQuery', `q has ${x.length} elements, not a multiple of nHeads ${nHeads}`);
  const out = new Float32Array(2 * x.length);
  for (let h = 0; h < nHeads; h++) {
    for (let e = 0; e < headDim; e++) {
      const v = x[h * headDim + e];
      out[2 * h * headDim + e] = v;
      out[(2 * h + 1) * headDim + e] = Math.abs(v);
    }
  }
  return backend.upload(out, [1, 2 * x.length]);
}
