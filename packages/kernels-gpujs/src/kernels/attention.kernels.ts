// gpu.js sources of attention, in four passes over a block of query rows: scores [rows, nHeads, capacity],
// per-(row, head) [max, sum], probabilities, and the weighted sum of values. Every size is a uniform and the
// loops run to power-of-two constants with a break, so one compiled set of kernels serves every decode
// step (kvLen, the causal limit and the query offset change per step) and every model with similar sizes.
import { EXP_FLOOR, maxOrSumExp } from './row-reduce.kernels.js';

/** Number of keys query row i (absolute) may see: all kvLen, or up to its own position when causal. */
const LIMIT = `
  let limit = kvLen;
  if (causal > 0.5) {
    limit = Math.min(kvLen, queryOffset + i + 1);
  }`;

/** out[rows, nHeads, capacity] = q·k * scale (0 past the limit). Loop constants: dMax. */
export const ATTENTION_SCORES = `function(q, k, rowStart, kvLen, causal, queryOffset, scale, nHeads, group, headDim, capacity) {
  const t = this.thread.x + 0.5;
  const ih = Math.floor(t / capacity);
  const j = Math.floor(t - ih * capacity);
  const ib = Math.floor((ih + 0.5) / nHeads);
  const h = ih - ib * nHeads;
  const i = ib + rowStart;${LIMIT}
  if (j >= limit) {
    return 0;
  }
  const g = Math.floor((h + 0.5) / group);
  const qo = (i * nHeads + h) * headDim;
  const ko = (g * capacity + j) * headDim;
  let s = 0;
  for (let c = 0; c < this.constants.dMax; c++) {
    if (c >= headDim) {
      break;
    }
    s += q[qo + c] * k[ko + c];
  }
  return s * scale;
}`;

/** out[rows * nHeads * 2] = [max, sum of exp(s - max)] over the visible keys. Loop constants: capMax. */
export const ATTENTION_STATS = `function(scores, rowStart, kvLen, causal, queryOffset, nHeads, capacity) {
  const t = this.thread.x + 0.5;
  const ih = Math.floor(t / 2);
  const which = Math.floor(t - ih * 2);
  const i = Math.floor((ih + 0.5) / nHeads) + rowStart;${LIMIT}
  const o = ih * capacity;${maxOrSumExp('scores', 'limit', 'capMax')}
}`;

/** out[rows, nHeads, capacity] = softmax probabilities (0 past the limit). */
export const ATTENTION_PROBS = `function(scores, stats, rowStart, kvLen, causal, queryOffset, nHeads, capacity) {
  const t = this.thread.x + 0.5;
  const ih = Math.floor(t / capacity);
  const j = Math.floor(t - ih * capacity);
  const i = Math.floor((ih + 0.5) / nHeads) + rowStart;${LIMIT}
  if (j >= limit) {
    return 0;
  }
  return Math.exp(Math.max(scores[this.thread.x] - stats[ih * 2], ${EXP_FLOOR})) / stats[ih * 2 + 1];
}`;

/** out[rows, nHeads*headDim] = Σ_j p[j] v[g, j]. Loop constants: capMax. */
export const ATTENTION_OUTPUT = `function(probs, v, rowStart, kvLen, causal, queryOffset, nHeads, group, headDim, capacity) {
  const t = this.thread.x + 0.5;
  const ih = Math.floor(t / headDim);
  const c = Math.floor(t - ih * headDim);
  const ib = Math.floor((ih + 0.5) / nHeads);
  const h = ih - ib * nHeads;
  const i = ib + rowStart;${LIMIT}
  const g = Math.floor((h + 0.5) / group);
  const po = ih * capacity;
  const vo = g * capacity * headDim + c;
  let acc = 0;
  for (let j = 0; j < this.constants.capMax; j++) {
    if (j >= limit) {
      break;
    }
    acc += probs[po + j] * v[vo + j * headDim];
  }
  return acc;
}`;

/** Copies a block of rows into a full output: out[m, width] = block rows rowStart.. or prev. */
export const ROWS_ASSEMBLE = `function(prev, block, rowStart, width, blockRows) {
  const row = Math.floor((this.thread.x + 0.5) / width);
  if (row >= rowStart && row < rowStart + blockRows) {
    return block[this.thread.x - rowStart * width];
  }
  return prev[this.thread.x];
}`;

/** In-place writeKv as a copy: out = cache with rows start..start+m of every KV head taken from x. */
export const WRITE_KV = `function(cache, x, start, capacity, headDim, nKvHeads, m) {
  const t = this.thread.x + 0.5;
  const g = Math.floor(t / (capacity * headDim));
  const rem = t - g * capacity * headDim;
  const row = Math.floor(rem / headDim);
  const c = Math.floor(rem - row * headDim);
  const i = row - start;
  if (i >= 0 && i < m) {
    return x[(i * nKvHeads + g) * headDim + c];
  }
  return cache[this.thread.x];
}`;
