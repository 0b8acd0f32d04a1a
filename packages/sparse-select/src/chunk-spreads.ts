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
 * nLandmarks, headDim + groups]. Scored by `landmarkScores` against `spreadQuery(q, groups)` per head, the logit is
 * `q·center + weight·Σ_g (Σ_{d in g} |q_d|)·max_{d in g} halfWidth_d`: the middle of the chunk's range at weight 0,
 * Quest's upper bound of the chunk's best key logit at weight 1 with one group per dimension (groups = headDim),
 * a looser bound at a fraction of its memory and work with fewer groups (consecutive dimensions, headDim/groups each).
 */
export function spreadLandmarks(centers: Float32Array, halfWidths: Float32Array, headDim: number, weight: number, groups = headDim): Float32Array {
  if (halfWidths.length !== centers.length || centers.length % headDim !== 0) {
    throw new ShapeError('spreadLandmarks', `centers [${centers.length}] and half widths [${halfWidths.length}] must both be [.., ${headDim}]`);
  }
  checkGroups('spreadLandmarks', headDim, groups);
  const per = headDim / groups;
  const n = centers.length / headDim;
  const w = headDim + groups;
  const out = new Float32Array(n * w);
  for (let i = 0; i < n; i++) {
    out.set(centers.subarray(i * headDim, (i + 1) * headDim), i * w);
    for (let g = 0; g < groups; g++) {
      let m = 0;
      for (let e = g * per; e < (g + 1) * per; e++) m = Math.max(m, halfWidths[i * headDim + e]);
      out[i * w + headDim + g] = weight * m;
    }
  }
  return out;
}

/**
 * The query of spread-aware chunk scores, `[q_h | Σ_{d in g} |q_hd| per group g]` per query head: [1,
 * nHeads*(headDim + groups)]. One read of q (nHeads*headDim floats) and one upload; on the CPU backends both are
 * copies.
 */
export async function spreadQuery(backend: KernelBackend, q: Tensor, nHeads: number, groups?: number): Promise<Tensor> {
  const x = (await backend.read(q)) as Float32Array;
  const headDim = x.length / nHeads;
  if (!Number.isInteger(headDim)) throw new ShapeError('spreadQuery', `q has ${x.length} elements, not a multiple of nHeads ${nHeads}`);
  const G = groups ?? headDim;
  checkGroups('spreadQuery', headDim, G);
  const per = headDim / G;
  const w = headDim + G;
  const out = new Float32Array(nHeads * w);
  for (let h = 0; h < nHeads; h++) {
    out.set(x.subarray(h * headDim, (h + 1) * headDim), h * w);
    for (let e = 0; e < headDim; e++) out[h * w + headDim + Math.floor(e / per)] += Math.abs(x[h * headDim + e]);
  }
  return backend.upload(out, [1, nHeads * w]);
}

function checkGroups(op: string, headDim: number, groups: number): void {
  if (!Number.isInteger(groups) || groups < 1 || headDim % groups !== 0) throw new ShapeError(op, `groups ${groups} must divide headDim ${headDim}`);
}
