// ShadowKV's storage form of a truncated SVD: A = U ([seqLen, rank]) and B = S·Vᵀ ([rank, cols]).
import type { SvdResult } from './svd-result.js';

/**
 * Splits svd into a = U [rows, rank] and b = diag(s)·Vᵀ [rank, cols], so that A·B ≈ the input matrix.
 * `a` is svd.u itself (not a copy: at seqLen 128K it is tens of MB); b is new, scaled in float64.
 */
export function lowRankFactors(svd: SvdResult): { a: Float32Array; b: Float32Array } {
  const { rank, cols, s, vt } = svd;
  const b = new Float32Array(rank * cols);
  for (let k = 0; k < rank; k++) {
    for (let j = 0; j < cols; j++) b[k * cols + j] = s[k] * vt[k * cols + j];
  }
  return { a: svd.u, b };
}
