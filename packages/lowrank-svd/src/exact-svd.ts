// Full SVD of a small matrix in float64: the reference the randomized SVD is measured against.
import { svdColumnMajor } from './jacobi-svd.js';
import type { SvdResult } from './svd-result.js';
import { assertMatrix } from './validate-matrix.js';

/**
 * Full SVD of a row-major [rows, cols] matrix, rank = min(rows, cols), computed in float64
 * (Householder QR, then one-sided Jacobi). Cost about 2·max·min² + 10·min³ flops and a float64 copy
 * of the matrix, so it is meant for matrices up to a few thousand by a few hundred; use
 * randomizedSvd for long sequences.
 * Columns of U for zero singular values are completed to an orthonormal set. The largest-magnitude
 * entry of every row of vt is positive (a sign convention shared with randomizedSvd).
 * @throws SvdOptionError on bad sizes or non-finite values.
 */
export function exactSvd(a: Float32Array | Float64Array, rows: number, cols: number): SvdResult {
  assertMatrix(a, rows, cols);
  const rank = Math.min(rows, cols);
  const u = new Float32Array(rows * rank);
  const vt = new Float32Array(rank * cols);
  if (rows >= cols) {
    const x = new Float64Array(rows * cols); // [rows, cols] column-major
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) x[j * rows + i] = a[i * cols + j];
    }
    const r = svdColumnMajor(x, rows, cols);
    for (let i = 0; i < rows; i++) {
      for (let k = 0; k < rank; k++) u[i * rank + k] = r.u[k * rows + i];
    }
    vt.set(r.v); // column k of V (column-major) is row k of Vᵀ
    return { u, s: r.s, vt, rows, cols, rank };
  }
  // Wide: the row-major buffer of A is the column-major buffer of Aᵀ = U'ΣV'ᵀ, and A = V'ΣU'ᵀ.
  const r = svdColumnMajor(Float64Array.from(a), cols, rows);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < rank; k++) u[i * rank + k] = r.v[k * rows + i];
  }
  vt.set(r.u);
  flipToConvention(u, vt, rows, cols, rank);
  return { u, s: r.s, vt, rows, cols, rank };
}

/** Flips pairs (column k of u, row k of vt) so that the largest-magnitude entry of each vt row is positive. */
export function flipToConvention(u: Float32Array, vt: Float32Array, rows: number, cols: number, rank: number): void {
  for (let k = 0; k < rank; k++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (Math.abs(vt[k * cols + j]) > Math.abs(vt[k * cols + best])) best = j;
    if (vt[k * cols + best] >= 0) continue;
    for (let j = 0; j < cols; j++) vt[k * cols + j] = -vt[k * cols + j];
    for (let i = 0; i < rows; i++) u[i * rank + k] = -u[i * rank + k];
  }
}
