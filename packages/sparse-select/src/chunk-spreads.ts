// Chunk spreads: how far a chunk's keys reach from its landmark, per dimension, so that a chunk score can bound
// the best key in the chunk instead of averaging it away (issue 15, docs/shadowkv-accuracy.md section 8).
import { ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';
import { checkHeadMajorRows, type HeadMajorRows } from './head-major-rows.js';

/**
 * Per chunk and dimension, the largest distance of a key from the chunk's landmark: `dev[h, i, d] =
 * max_j |k[h, c_i*chunkSize + j, d] - landmark[h, i, d]|` for the chunk c_i of landmark i. With it,
 * `q·landmark + Σ_d |q_d|·dev_d >= q·k` for every key k of the chunk (the triangle inequality per dimension),
 * so a chunk holding one key that matches q scores at least that key's logit, where the mean alone divides its
 * excess by chunkSize.
 *
 * @param keys post-RoPE keys [nKvHeads, rowStride, headDim]
 * @param landmarks [nKvHeads, nLandmarks, headDim], the means of the chunks in `chunkIds`
 * @param chunkIds chunk id of each landmark [nKvHeads, nLandmarks]; row 0 of `keys` is chunk `firstChunk`'s first row
 * @returns dev [nKvHeads, nLandmarks, headDim]
 */
export function chunkSpreads(keys: HeadMajorRows, landmarks: Float32Array, chunkIds: Int32Array, chunkSize: number, firstChunk = 0): Float32Array {
  const { data, nKvHeads, rowStride, headDim } = keys;
  const nLandmarks = chunkIds.length / nKvHeads;
  if (!Number.isInteger(nLandmarks) || landmarks.length !== nKvHeads * nLandmarks * headDim) {
    throw new ShapeError('chunkSpreads', `landmarks [${landmarks.length}] and chunkIds [${chunkIds.length}] do not match ${nKvHeads} KV heads of width ${headDim}`);
  }
  let last = -1;
  for (const c of chunkIds) last = Math.max(last, c - firstChunk);
  checkHeadMajorRows('chunkSpreads', keys, (last + 1) * chunkSize);
  const out = new Float32Array(landmarks.length);
  for (let h = 0; h < nKvHeads; h++) {
    for (let i = 0; i < nLandmarks; i++) {
      const c = chunkIds[h * nLandmarks + i] - firstChunk;
      if (c < 0) throw new ShapeError('chunkSpreads', `chunk id ${c + firstChunk} of head ${h} is before the first chunk ${firstChunk}`);
      const o = (h * nLandmarks + i) * headDim;
      let row = (h * rowStride + c * chunkSize) * headDim;
      for (let j = 0; j < chunkSize; j++, row += headDim) {
        for (let e = 0; e < headDim; e++) {
          const d = Math.abs(data[row + e] - landmarks[o + e]);
          if (d > out[o + e]) out[o + e] = d;
        }
      }
    }
  }
  return out;
}

/**
 * The selection vectors of spread-aware chunk scores: per landmark `[landmark | weight·dev]`, [nKvHeads, nLandmarks,
 * 2*headDim]. Scored by `landmarkScores` against `spreadQuery(q)` = `[q_h | |q_h|]` per head, the logit is
 * `q·landmark + weight·Σ_d |q_d|·dev_d`: the authors' landmark score at weight 0, an upper bound of the chunk's
 * best key logit at weight 1.
 */
export function spreadLandmarks(landmarks: Float32Array, dev: Float32Array, headDim: number, weight: number): Float32Array {
  if (dev.length !== landmarks.length || landmarks.length % headDim !== 0) {
    throw new ShapeError('spreadLandmarks', `landmarks [${landmarks.length}] and spreads [${dev.length}] must both be [.., ${headDim}]`);
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
