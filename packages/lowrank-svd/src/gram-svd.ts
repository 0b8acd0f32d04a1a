// Exact truncated SVD of a tall matrix through the eigen-decomposition of its Gram matrix AᵀA, in float64.
// For keys ([seqLen, nKvHeads·headDim] with a few hundred columns) this is the cheap way to the exact
// leading components: one pass over A to form AᵀA (rows·cols²/2 multiply-adds), a cols×cols
// eigen-decomposition (Householder + implicit QL, ~9·cols³ flops), and one more pass for U = A·V·Σ⁻¹
// (rows·cols·rank) — against about 2·rows·cols² + 10·cols³ for Householder QR + one-sided Jacobi on A itself
// (exactSvd).
//
// Squaring A squares its condition number: an eigenvalue λ_k = σ_k² of the float64 Gram matrix carries an
// absolute error of about cols·u·σ1² (u = 2^-53), so σ_k is relatively accurate to cols·u·(σ1/σk)²/2, and
// so are the directions of V and U for components separated from their neighbours. gramSvd only answers
// when every kept σ_k is above MIN_RELATIVE·σ1, which bounds that error by ~3e-8 for 512 columns —
// far below the float32 rounding of the returned U and Vᵀ; otherwise it returns undefined and the caller
// falls back to exactSvd (QR + Jacobi), which is accurate for any spectrum.
import { tridiagonalEigen } from './tridiagonal-eigen.js';
import type { SvdResult } from './svd-result.js';
import { multiplyToFloat32, multiplyTransposedInto } from './tall-products.js';

/** Smallest kept σ_k/σ1 for which the Gram route is trusted (see the file comment). */
const MIN_RELATIVE = 1e-4;

/**
 * The leading `pickRank(s)` components of the SVD of a row-major [rows, cols] matrix (rows >= cols), where
 * pickRank receives all cols singular values (descending) and returns a rank in 1..cols; or undefined when
 * a kept singular value is too small relative to σ1 for the Gram route to be accurate (including A = 0).
 * Signs follow the package convention (largest-magnitude entry of each row of vt positive).
 */
export function gramSvd(
  a: Float32Array | Float64Array,
  rows: number,
  cols: number,
  pickRank: (s: Float64Array) => number,
): SvdResult | undefined {
  const c = new Float64Array(cols * cols);
  multiplyTransposedInto(c, a, cols, a, cols, rows, true);
  for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) c[i * cols + j] = c[j * cols + i];
  const { values, vectors } = tridiagonalEigen(c, cols);
  const sAll = new Float64Array(cols);
  for (let k = 0; k < cols; k++) sAll[k] = Math.sqrt(Math.max(values[k], 0));
  const rank = pickRank(sAll);
  if (!(sAll[0] > 0) || sAll[rank - 1] < MIN_RELATIVE * sAll[0]) return undefined;

  // vt row k = eigenvector k (column k of `vectors`), flipped so its largest-magnitude entry is positive;
  // scaled [cols, rank] = V·Σ⁻¹ with the same signs, so that U = A·scaled.
  const vt = new Float32Array(rank * cols);
  const scaled = new Float64Array(cols * rank);
  for (let k = 0; k < rank; k++) {
    let best = 0;
    for (let i = 1; i < cols; i++) if (Math.abs(vectors[i * cols + k]) > Math.abs(vectors[best * cols + k])) best = i;
    const sign = vectors[best * cols + k] < 0 ? -1 : 1;
    for (let i = 0; i < cols; i++) {
      const v = sign * vectors[i * cols + k];
      vt[k * cols + i] = v;
      scaled[i * rank + k] = v / sAll[k];
    }
  }
  const u = multiplyToFloat32(a, rows, cols, scaled, rank);
  return { u, s: sAll.slice(0, rank), vt, rows, cols, rank };
}
