// Two-stage chunk selection: landmarks nominate candidate chunks, the candidates' rebuilt (rank-r) keys pick the final ones.
import { ShapeError, type KernelBackend, type RopeSpec, type Tensor } from '@shadowkv/core';

/** ShadowKV's low-rank pre-RoPE keys: token t's key for KV head h is rope(a[t]·b[h], t + positionOffset). */
export interface LowRankKeys {
  /** [seqLen, rank] */
  a: Tensor;
  /** [nKvHeads, rank, headDim] */
  b: Tensor;
  rope: RopeSpec;
  /** Position of row 0 of `a` (default 0). */
  positionOffset?: number;
}

/**
 * Re-scores candidate chunks with their rebuilt keys and keeps the `count` best per KV head.
 *
 * A landmark (the chunk's mean key) scores q·mean, which blurs a chunk holding one key that matches q among
 * seven that do not; attention itself sums exp(q·k) over the keys. So the candidates' keys are rebuilt
 * (backend.rebuildKeys), each query head takes the softmax of q·kᵀ·scale over all candidate tokens
 * (backend.landmarkScores, max over the query heads of each KV head, per token), and a chunk scores the sum
 * of its tokens' probabilities. Ties go to the lower chunk id.
 *
 * Work per call: a rebuild and a score of candidates·chunkSize keys per KV head; one [nKvHeads, nCand*chunkSize]
 * read back to the host. Nothing is kept between calls.
 *
 * @param q post-RoPE query of one token [1, nHeads*headDim]
 * @param candidates candidate chunk ids [nKvHeads, nCand], distinct within a head (e.g. landmarkChunkIds of a
 *   selectChunks with a larger count)
 * @returns chunk ids [nKvHeads, count], ascending within each head
 */
export async function refineChunks(
  backend: KernelBackend,
  q: Tensor,
  keys: LowRankKeys,
  candidates: Int32Array,
  nKvHeads: number,
  nHeads: number,
  chunkSize: number,
  count: number,
  scale: number,
  out?: Int32Array,
): Promise<Int32Array> {
  const r = await refineChunksKeepingKeys(backend, q, keys, candidates, nKvHeads, nHeads, chunkSize, count, scale, out);
  backend.dispose(r.rebuilt);
  return r.ids;
}

/** What refineChunksKeepingKeys returns: the chosen chunks and the candidates' rebuilt keys they were scored with. */
export interface RefinedChunks {
  /** Chosen chunk ids [nKvHeads, count], ascending within each head. */
  ids: Int32Array;
  /** The candidates' rebuilt post-RoPE keys [nKvHeads, nCand*chunkSize, headDim]; the caller disposes it. */
  rebuilt: Tensor;
  /** Per KV head, chunk id -> its candidate index k (rows k*chunkSize.. of `rebuilt`). */
  candidateIndex: Map<number, number>[];
}

/**
 * refineChunks, keeping the candidates' rebuilt keys: the chosen chunks' keys are rows of `rebuilt`, so a caller
 * that needs them (ShadowKV's decode step) gathers them (backend.gatherChunks) instead of rebuilding them again.
 */
export async function refineChunksKeepingKeys(
  backend: KernelBackend,
  q: Tensor,
  keys: LowRankKeys,
  candidates: Int32Array,
  nKvHeads: number,
  nHeads: number,
  chunkSize: number,
  count: number,
  scale: number,
  out?: Int32Array,
): Promise<RefinedChunks> {
  const nCand = candidates.length / nKvHeads;
  if (!Number.isInteger(nCand) || nCand < 1) throw new ShapeError('refineChunks', `${candidates.length} candidates do not split into ${nKvHeads} heads`);
  if (!Number.isInteger(count) || count < 1 || count > nCand) throw new ShapeError('refineChunks', `count ${count} must be an integer in [1, ${nCand}] (the candidates per head)`);
  const idx = backend.upload(candidates, [nKvHeads, nCand], 'i32');
  const rebuilt = backend.rebuildKeys(keys.a, keys.b, idx, chunkSize, keys.positionOffset ?? 0, keys.rope); // [nKvHeads, nCand*chunkSize, headDim]
  backend.dispose(idx);
  let p: Float32Array;
  try {
    const scores = backend.landmarkScores(q, rebuilt, nHeads, scale); // [nKvHeads, nCand*chunkSize]
    p = (await backend.read(scores)) as Float32Array;
    backend.dispose(scores);
  } catch (e) {
    backend.dispose(rebuilt);
    throw e;
  }
  const ids = topChunksByMass(p, candidates, nKvHeads, chunkSize, count, out);
  const candidateIndex = Array.from({ length: nKvHeads }, (_, h) => new Map(Array.from(candidates.subarray(h * nCand, (h + 1) * nCand), (id, k) => [id, k])));
  return { ids, rebuilt, candidateIndex };
}

/**
 * Host half of refineChunks: per KV head the `count` candidates with the largest summed token score.
 * @param tokenScores [nKvHeads, nCand*chunkSize], candidate k's tokens at k*chunkSize..(k+1)*chunkSize
 * @param candidates chunk ids [nKvHeads, nCand]
 * @returns chunk ids [nKvHeads, count], ascending within each head
 */
export function topChunksByMass(tokenScores: Float32Array, candidates: Int32Array, nKvHeads: number, chunkSize: number, count: number, out?: Int32Array): Int32Array {
  const nCand = candidates.length / nKvHeads;
  if (tokenScores.length !== candidates.length * chunkSize) {
    throw new ShapeError('topChunksByMass', `${tokenScores.length} token scores, [${nKvHeads}, ${nCand}*${chunkSize}] needs ${candidates.length * chunkSize}`);
  }
  const res = out ?? new Int32Array(nKvHeads * count);
  const mass = new Float64Array(nCand);
  const order = Array.from({ length: nCand }, (_, k) => k);
  for (let h = 0; h < nKvHeads; h++) {
    const ids = candidates.subarray(h * nCand, (h + 1) * nCand);
    for (let k = 0; k < nCand; k++) {
      let m = 0;
      for (let j = 0; j < chunkSize; j++) m += tokenScores[(h * nCand + k) * chunkSize + j];
      mass[k] = m;
    }
    order.sort((x, y) => mass[y] - mass[x] || ids[x] - ids[y]);
    const best = order.slice(0, count).map((k) => ids[k]).sort((x, y) => x - y);
    res.set(best, h * count);
  }
  return res;
}
