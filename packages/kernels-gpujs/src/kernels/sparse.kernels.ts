// gpu.js sources of the sparse decode kernels: chunk gather, landmark scores, and top-k selection.
import { CHUNK_OF_ROW, headRowElement } from './chunk-rows.js';
import { EXP_FLOOR } from './row-reduce.kernels.js';

/** out[h, s*chunkSize + j, c] = src[h, idx[h, s]*chunkSize + j, c]; src has `rows` rows per KV head. */
export const GATHER_CHUNKS = `function(src, idx, nSel, chunkSize, headDim, rows) {${headRowElement('nSel * chunkSize')}${CHUNK_OF_ROW}
  return src[(g * rows + idx[g * nSel + chunk] * chunkSize + j) * headDim + e];
}`;

/** out[nHeads, nChunks] = q_h · landmark[g(h), c] * scale. Loop constants: dMax. */
export const LANDMARK_LOGITS = `function(q, landmarks, scale, nChunks, headDim, group) {
  const t = this.thread.x + 0.5;
  const h = Math.floor(t / nChunks);
  const c = Math.floor(t - h * nChunks);
  const g = Math.floor((h + 0.5) / group);
  const qo = h * headDim;
  const lo = (g * nChunks + c) * headDim;
  let s = 0;
  for (let e = 0; e < this.constants.dMax; e++) {
    if (e >= headDim) {
      break;
    }
    s += q[qo + e] * landmarks[lo + e];
  }
  return s * scale;
}`;

/** out[nKvHeads, nChunks] = max over the group's heads of softmax probabilities. Loop constants: groupMax. */
export const LANDMARK_MAX = `function(logits, stats, nChunks, group) {
  const t = this.thread.x + 0.5;
  const g = Math.floor(t / nChunks);
  const c = Math.floor(t - g * nChunks);
  let best = 0;
  for (let u = 0; u < this.constants.groupMax; u++) {
    if (u >= group) {
      break;
    }
    const h = g * group + u;
    const p = Math.exp(Math.max(logits[h * nChunks + c] - stats[h * 2], ${EXP_FLOOR})) / stats[h * 2 + 1];
    best = Math.max(best, p);
  }
  return best;
}`;

/**
 * out[rows, n] = rank of each element in its row: the number of elements ranked before it (larger, or equal
 * with a lower index). The top k are exactly those with rank < k. O(n) per element. Loop constants: nMax.
 */
export const TOPK_RANKS = `function(x, n) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / n);
  const i = Math.floor(t - row * n);
  const o = row * n;
  const xi = x[this.thread.x];
  let rank = 0;
  for (let j = 0; j < this.constants.nMax; j++) {
    if (j >= n) {
      break;
    }
    const xj = x[o + j];
    if (xj > xi) {
      rank += 1;
    } else if (xj == xi && j < i) {
      rank += 1;
    }
  }
  return rank;
}`;

/** out[rows, k] = the s-th index (ascending) whose rank is < k. Loop constants: nMax. */
export const TOPK_COMPACT = `function(ranks, n, k) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / k);
  const s = Math.floor(t - row * k);
  const o = row * n;
  let count = 0;
  let found = 0;
  for (let i = 0; i < this.constants.nMax; i++) {
    if (i >= n) {
      break;
    }
    if (ranks[o + i] < k) {
      if (count == s) {
        found = i;
        break;
      }
      count += 1;
    }
  }
  return found;
}`;

/** out[rows, rowLen] = i: the identity permutation; entries i >= n of a padded row are sentinels. */
export const TOPK_IOTA = `function(rowLen) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / rowLen);
  return Math.floor(t - row * rowLen);
}`;

/**
 * One compare-exchange step of a bitonic sort of index rows [rows, rowLen] (rowLen a power of two). With
 * byValue the order is value descending, then index ascending (the CPU topK rule), sentinels (index >= n)
 * last; without it, index ascending. size/stride are the network's current block size and partner distance;
 * GLSL ES 1.0 has no bit operations, so bits are read with floor and mod.
 */
export const TOPK_BITONIC_STEP = `function(keys, x, n, rowLen, size, stride, byValue) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / rowLen);
  const i = Math.floor(t - row * rowLen);
  const upper = Math.floor((i + 0.5) / stride) % 2;
  let partner = i + stride;
  if (upper > 0.5) {
    partner = i - stride;
  }
  const a = keys[row * rowLen + i];
  const b = keys[row * rowLen + partner];
  let aFirst = 0;
  if (a < b) {
    aFirst = 1;
  }
  if (byValue > 0.5) {
    if (a < n && b < n) {
      const va = x[row * n + a];
      const vb = x[row * n + b];
      if (va > vb) {
        aFirst = 1;
      } else if (va < vb) {
        aFirst = 0;
      }
    }
  }
  const descending = Math.floor((i + 0.5) / size) % 2;
  let takeFirst = 1 - upper;
  if (descending > 0.5) {
    takeFirst = upper;
  }
  if (takeFirst > 0.5) {
    if (aFirst > 0.5) {
      return a;
    }
    return b;
  }
  if (aFirst > 0.5) {
    return b;
  }
  return a;
}`;

/** out[rows, outLen] = keys[rows, :outLen] for s < k, sentinel n + s after that. */
export const TOPK_SLICE = `function(keys, inLen, outLen, k, n) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / outLen);
  const s = Math.floor(t - row * outLen);
  if (s < k) {
    return keys[row * inLen + s];
  }
  return n + s;
}`;

/**
 * inverse[h, c] = the slot s with idx[h, s] == c (the last one if repeated), or -1: turns scatterChunks into
 * a gather. Loop constants: selMax.
 */
export const SCATTER_INVERSE = `function(idx, nChunks, nSel) {
  const t = this.thread.x + 0.5;
  const g = Math.floor(t / nChunks);
  const c = Math.floor(t - g * nChunks);
  let found = -1;
  for (let s = 0; s < this.constants.selMax; s++) {
    if (s >= nSel) {
      break;
    }
    if (idx[g * nSel + s] == c) {
      found = s;
    }
  }
  return found;
}`;

/** In-place scatterChunks as a copy: out = dst with chunk c of head h taken from src slot inverse[h, c] when >= 0. */
export const SCATTER_CHUNKS = `function(dst, src, inverse, rows, nChunks, nSel, chunkSize, headDim) {${headRowElement('rows')}${CHUNK_OF_ROW}
  if (chunk < nChunks) {
    const s = inverse[g * nChunks + chunk];
    if (s > -0.5) {
      return src[((g * nSel + s) * chunkSize + j) * headDim + e];
    }
  }
  return dst[this.thread.x];
}`;
