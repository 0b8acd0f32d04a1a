// The truncated SVD A ≈ U·diag(s)·Vᵀ as returned by every function of this package.

/**
 * A rank-`rank` SVD of a row-major [rows, cols] matrix.
 * Columns of U and rows of Vᵀ are orthonormal; `s` is non-negative and descending.
 */
export interface SvdResult {
  /** Left singular vectors, [rows, rank] row-major. */
  u: Float32Array;
  /** Singular values, [rank], descending, computed in float64. */
  s: Float64Array;
  /** Right singular vectors transposed, [rank, cols] row-major. */
  vt: Float32Array;
  rows: number;
  cols: number;
  rank: number;
}
