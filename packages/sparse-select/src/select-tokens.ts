// KCache token selection: exact attention probabilities, then a fixed top-N or the smallest set reaching a mass.
import { ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';

/**
 * Attention probabilities of one query over the first `kvLen` keys, `softmax(q · kᵀ · scale)` per query head,
 * max over the query heads of each KV head (keys play the landmarks' role in backend.landmarkScores).
 * When the cache has spare rows they are cut off with one gatherChunks copy, since landmarkScores
 * scores every row it is given.
 *
 * @param q post-RoPE query of one token [1, nHeads*headDim]
 * @param keys post-RoPE keys [nKvHeads, capacity, headDim], rows 0..kvLen valid
 * @returns [nKvHeads, kvLen]
 */
export function tokenScores(backend: KernelBackend, q: Tensor, keys: Tensor, kvLen: number, nHeads: number, scale: number): Tensor {
  const [nKvHeads, capacity] = keys.shape;
  if (!Number.isInteger(kvLen) || kvLen < 1 || kvLen > capacity) {
    throw new ShapeError('tokenScores', `kvLen ${kvLen} must be an integer in [1, ${capacity}] (the cache capacity)`);
  }
  if (kvLen === capacity) return backend.landmarkScores(q, keys, nHeads, scale);
  const first = backend.upload(new Int32Array(nKvHeads), [nKvHeads, 1]); // chunk 0 of size kvLen, every head
  const valid = backend.gatherChunks(keys, first, kvLen); // [nKvHeads, kvLen, headDim]
  const scores = backend.landmarkScores(q, valid, nHeads, scale);
  backend.dispose(first);
  backend.dispose(valid);
  return scores;
}

/**
 * The token count KCache's mass mode keeps, from probabilities max-pooled over each KV head's query heads
 * (tokenScores). Per KV head, the smallest top set whose left-out max-pooled probability is at most
 * `1 - mass`: since every query head's own probability of a token is at most the pooled one, each query head
 * then keeps at least `mass` of its attention. (Summing pooled probabilities up to `mass` instead would not
 * guarantee that: pooled probabilities sum to more than 1 when the heads of a group disagree.) Returns the max
 * over KV heads, so every head keeps at least its own set; at most n.
 *
 * @param probs [nKvHeads, n] on the host
 */
export function massCount(probs: Float32Array, nKvHeads: number, mass: number): number {
  const n = probs.length / nKvHeads;
  if (!Number.isInteger(n)) throw new ShapeError('massCount', `${probs.length} scores do not split into ${nKvHeads} heads`);
  if (!(mass > 0 && mass <= 1)) throw new ShapeError('massCount', `mass ${mass} must be in (0, 1]`);
  let best = 0;
  for (let h = 0; h < nKvHeads; h++) {
    const sorted = probs.slice(h * n, (h + 1) * n).sort(); // ascending: the smallest are the ones left out
    // Leave out the smallest tokens while their total stays within 1 - mass.
    const allowed = 1 - mass;
    let left = 0;
    let out = 0;
    while (out < n && left + sorted[out] <= allowed) left += sorted[out++];
    if (n - out > best) best = n - out;
  }
  return best;
}

/**
 * Indices of the `count` highest-scored tokens per KV head, ascending (backend.topK).
 * @param scores [nKvHeads, kvLen] from tokenScores
 * @returns i32 [nKvHeads, count]
 */
export function selectTokens(backend: KernelBackend, scores: Tensor, count: number): Tensor {
  const kvLen = scores.shape[1];
  if (!Number.isInteger(count) || count < 1 || count > kvLen) {
    throw new ShapeError('selectTokens', `count ${count} must be an integer in [1, ${kvLen}]`);
  }
  return backend.topK(scores, count);
}
