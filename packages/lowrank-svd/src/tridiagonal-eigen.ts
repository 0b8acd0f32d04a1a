// Eigen-decomposition of a dense symmetric matrix by Householder reduction to tridiagonal form and the
// implicit QL algorithm with Wilkinson-type shifts, in float64 (Golub & Van Loan, "Matrix Computations",
// 4th ed., §8.3). About 4/3·n³ flops for the reduction, 2n³ to accumulate it and ~6n³ for the QL sweeps'
// rotations — an order of magnitude fewer than cyclic Jacobi (symmetric-eigen.ts) for n in the hundreds,
// which is what the Gram matrices of wide keys need. Jacobi stays the choice where small eigenvalues must be
// relatively accurate (SVQB); here every eigenvalue carries an absolute error of about n·u·‖A‖.
import type { SymmetricEigen } from './symmetric-eigen.js';

const EPS = 2.220446049250313e-16;
/** QL iterations allowed per eigenvalue before giving up (convergence is cubic; a handful is typical). */
const MAX_ITERATIONS = 60;

/**
 * Eigenpairs of the symmetric n×n matrix `m` ([n, n] row-major; only read, both triangles assumed equal):
 * `values` descending, `vectors` [n, n] row-major with eigenvector k in column k (same layout as
 * symmetricEigen). Throws if the QL iteration does not converge (not observed for finite input).
 */
export function tridiagonalEigen(m: Float64Array, n: number): SymmetricEigen {
  const a = Float64Array.from(m.subarray(0, n * n));
  // zt holds Qᵀ: row j is column j of the accumulated orthogonal transform (contiguous rows for both updates).
  const zt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) zt[i * n + i] = 1;
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[i] couples i and i+1; e[n-1] = 0
  reduceToTridiagonal(a, zt, d, e, n);
  implicitQl(d, e, zt, n);

  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y] - d[x]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const src = order[k];
    values[k] = d[src];
    for (let i = 0; i < n; i++) vectors[i * n + k] = zt[src * n + i];
  }
  return { values, vectors };
}

/**
 * Householder reduction A = Q·T·Qᵀ in place: for each column k, a reflector H = I − 2vvᵀ (unit v on rows
 * k+1..n-1) zeroes A[k+2.., k]; the trailing block is updated as A − v·wᵀ − w·vᵀ with w = 2(p − (vᵀp)·v),
 * p = A·v, and Qᵀ ← H·Qᵀ. Leaves the diagonal in d and the subdiagonal in e.
 */
function reduceToTridiagonal(a: Float64Array, zt: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  const u = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const s = k + 1; // the reflector acts on rows/columns s..n-1
    let norm2 = 0;
    for (let i = s; i < n; i++) norm2 += a[i * n + k] * a[i * n + k];
    const x0 = a[s * n + k];
    const norm = Math.sqrt(norm2);
    const tail2 = norm2 - x0 * x0;
    if (norm === 0 || tail2 <= EPS * EPS * norm2) {
      e[k] = x0; // already tridiagonal in this column
      continue;
    }
    const alpha = x0 >= 0 ? -norm : norm; // H·x = alpha·e1, sign chosen to avoid cancellation in v0
    v.fill(0);
    v[s] = x0 - alpha;
    for (let i = s + 1; i < n; i++) v[i] = a[i * n + k];
    const vnorm = Math.sqrt(v[s] * v[s] + tail2);
    for (let i = s; i < n; i++) v[i] /= vnorm;
    e[k] = alpha;

    // p = A[s.., s..]·v, then w = 2(p − (vᵀp)·v).
    let vp = 0;
    for (let i = s; i < n; i++) {
      let acc = 0;
      const row = i * n;
      for (let j = s; j < n; j++) acc += a[row + j] * v[j];
      w[i] = acc;
      vp += v[i] * acc;
    }
    for (let i = s; i < n; i++) w[i] = 2 * (w[i] - vp * v[i]);
    for (let i = s; i < n; i++) {
      const row = i * n;
      const vi = v[i], wi = w[i];
      for (let j = s; j < n; j++) a[row + j] -= vi * w[j] + wi * v[j];
    }
    // Qᵀ ← H·Qᵀ on rows s..n-1: u = vᵀ·Qᵀ[s..], then row i −= 2·v_i·u.
    u.fill(0);
    for (let i = s; i < n; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) u[j] += vi * zt[row + j];
    }
    for (let i = s; i < n; i++) {
      const f = 2 * v[i];
      if (f === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) zt[row + j] -= f * u[j];
    }
  }
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  if (n >= 2) e[n - 2] = a[(n - 1) * n + n - 2];
  e[n - 1] = 0;
}

/**
 * Diagonalises the tridiagonal (d, e) by implicit QL steps: for the unreduced block l..m the shift is the
 * eigenvalue of its leading 2×2 nearer d[l]; a chase of Givens rotations from the bottom restores the
 * tridiagonal form, each rotation also applied to rows i and i+1 of zt. Off-diagonals below u·(|d_i| + |d_i+1|)
 * or below u·‖T‖ are treated as zero (deflation).
 */
function implicitQl(d: Float64Array, e: Float64Array, zt: Float64Array, n: number): void {
  // ‖T‖ (max row sum). Off-diagonals below u·‖T‖ are rounding noise of the reduction itself, so they deflate
  // too: with only the test relative to the neighbouring diagonals, a cluster of eigenvalues at noise level
  // (the Gram matrix of rank-deficient keys: many λ ≈ ±1e-16·‖A‖) never deflates and QL wanders.
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]) + (i > 0 ? Math.abs(e[i - 1]) : 0));
  const floor = EPS * norm;
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      let m = l;
      for (; m < n - 1; m++) {
        const em = Math.abs(e[m]);
        if (em <= floor || em <= EPS * (Math.abs(d[m]) + Math.abs(d[m + 1]))) break;
      }
      if (m === l) break;
      if (iter === MAX_ITERATIONS) throw new Error(`tridiagonalEigen: no convergence for eigenvalue ${l} after ${MAX_ITERATIONS} QL steps`);
      // Shift from the 2×2 block at l.
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The rotation would divide by zero: the block splits here; undo the last update and restart.
          d[i + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        // Columns i and i+1 of Q (rows of zt): [q_i, q_i+1] ← [c·q_i − s·q_i+1, s·q_i + c·q_i+1].
        const ri = i * n;
        const rj = ri + n;
        for (let k = 0; k < n; k++) {
          const zi = zt[ri + k];
          const zj = zt[rj + k];
          zt[rj + k] = s * zi + c * zj;
          zt[ri + k] = c * zi - s * zj;
        }
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}
