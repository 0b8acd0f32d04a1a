// gpu.js sources of the row reductions: rmsNorm and softmax, each a stats pass over rows and an apply pass.
// Index math adds 0.5 before dividing so that floor() never lands on the wrong side of an exact multiple.

/** exp arguments are clamped here: exp(-inf) is not reliably 0 in GLSL, and e^-87 ≈ 1.6e-38 is 0 for f32 sums. */
export const EXP_FLOOR = -87;

/**
 * Statements ending a softmax-stats kernel: return the max of `arr`[o, o + len) when `which` < 0.5, else
 * Σ exp(v - max) over the same range. `o`, `len` and `which` are the kernel's variables; the loops run to
 * this.constants[loopConst] and break at len (GL needs constant loop bounds).
 */
export function maxOrSumExp(arr: string, len: string, loopConst: string): string {
  return `
  let mx = ${arr}[o];
  for (let c = 1; c < this.constants.${loopConst}; c++) {
    if (c >= ${len}) {
      break;
    }
    mx = Math.max(mx, ${arr}[o + c]);
  }
  if (which < 0.5) {
    return mx;
  }
  let s = 0;
  for (let c = 0; c < this.constants.${loopConst}; c++) {
    if (c >= ${len}) {
      break;
    }
    s += Math.exp(Math.max(${arr}[o + c] - mx, ${EXP_FLOOR}));
  }
  return s;`;
}

/** out[m] = 1 / sqrt(mean(x[row]^2) + eps). Loop constants: dMax. */
export const RMS_STATS = `function(x, eps, d) {
  const o = Math.floor(this.thread.x + 0.5) * d;
  let ss = 0;
  for (let c = 0; c < this.constants.dMax; c++) {
    if (c >= d) {
      break;
    }
    const v = x[o + c];
    ss += v * v;
  }
  return 1 / Math.sqrt(ss / d + eps);
}`;

/** out[m, d] = x * r[row] * w. */
export const RMS_APPLY = `function(x, w, r, d) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / d);
  const c = Math.floor(t - row * d);
  return x[this.thread.x] * r[row] * w[c];
}`;

/** out[rows * 2]: [max, sum of exp(x - max)] of each row of x [rows, n]. Loop constants: nMax. */
export const SOFTMAX_STATS = `function(x, n) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / 2);
  const which = Math.floor(t - row * 2);
  const o = row * n;${maxOrSumExp('x', 'n', 'nMax')}
}`;

/** out[rows, n] = exp(x - max) / sum, with stats from SOFTMAX_STATS. */
export const SOFTMAX_APPLY = `function(x, stats, n) {
  const row = Math.floor((this.thread.x + 0.5) / n);
  return Math.exp(Math.max(x[this.thread.x] - stats[row * 2], ${EXP_FLOOR})) / stats[row * 2 + 1];
}`;

/**
 * out[rows, nBlocks, 2]: [max, sum of exp(x - max)] of block b (blockLen elements, fewer in the last block)
 * of each row: the first level of row stats for long rows, so that no thread loops over a whole row (more
 * parallel work, and software GL caps a loop at 65535 iterations). Loop constants: bMax.
 */
export const SOFTMAX_PARTIAL = `function(x, n, blockLen, nBlocks) {
  const t = this.thread.x + 0.5;
  const pair = Math.floor(t / 2);
  const which = Math.floor(t - pair * 2);
  const row = Math.floor((pair + 0.5) / nBlocks);
  const b = pair - row * nBlocks;
  const start = b * blockLen;
  const len = Math.min(blockLen, n - start);
  const o = row * n + start;${maxOrSumExp('x', 'len', 'bMax')}
}`;

/** out[rows, 2]: merges SOFTMAX_PARTIAL blocks: max M of the block maxima, Σ sum_b * exp(max_b - M). Loop constants: blocksMax. */
export const SOFTMAX_MERGE = `function(partials, nBlocks) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / 2);
  const which = Math.floor(t - row * 2);
  const o = row * nBlocks * 2;
  let mx = partials[o];
  for (let b = 1; b < this.constants.blocksMax; b++) {
    if (b >= nBlocks) {
      break;
    }
    mx = Math.max(mx, partials[o + b * 2]);
  }
  if (which < 0.5) {
    return mx;
  }
  let s = 0;
  for (let b = 0; b < this.constants.blocksMax; b++) {
    if (b >= nBlocks) {
      break;
    }
    s += partials[o + b * 2 + 1] * Math.exp(Math.max(partials[o + b * 2] - mx, ${EXP_FLOOR}));
  }
  return s;
}`;
