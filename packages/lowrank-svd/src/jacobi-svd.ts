// Full SVD of a small tall float64 matrix: Householder QR, then one-sided (Hestenes) Jacobi on R.
// One-sided Jacobi is accurate to float64 rounding even for tiny singular values, and QR first makes
// each sweep cost n³ instead of m·n² (m can be a few thousand rows, n a few hundred columns).
import { applyQ, extractR, householderQrInPlace } from './householder-qr.js';

/** x = U·diag(s)·Vᵀ with U [m, n], V [n, n] (column-major, orthonormal columns) and s descending. */
export interface ColumnMajorSvd {
  u: Float64Array;
  s: Float64Array;
  v: Float64Array;
}

const EPS = 2.220446049250313e-16;
const MAX_SWEEPS = 80;
/** Singular values below this are treated as exact zeros: their left vectors are rebuilt, not normalised. */
const TINY = 1e-290;

/**
 * SVD of x ([m, n] column-major, m >= n). Overwrites x.
 * Right vectors are sign-normalised: the largest-magnitude entry of every column of V is positive,
 * so results are reproducible and comparable across methods.
 */
export function svdColumnMajor(x: Float64Array, m: number, n: number): ColumnMajorSvd {
  const qr = householderQrInPlace(x, m, n);
  const w = extractR(qr); // [n, n] rotated in place until its columns are orthogonal: R·V = U_R·Σ
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  rotateUntilOrthogonal(w, v, n);

  const norms = new Float64Array(n);
  for (let j = 0; j < n; j++) norms[j] = Math.sqrt(sumSquares(w, j * n, n));
  const order = Array.from({ length: n }, (_, j) => j).sort((p, q) => norms[q] - norms[p]);
  const s = new Float64Array(n);
  const ur = new Float64Array(n * n);
  const vs = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const j = order[k];
    s[k] = norms[j];
    const sign = largestEntrySign(v, j * n, n);
    for (let i = 0; i < n; i++) vs[k * n + i] = sign * v[j * n + i];
    if (s[k] > TINY) {
      const f = sign / s[k];
      for (let i = 0; i < n; i++) ur[k * n + i] = w[j * n + i] * f;
    } else {
      s[k] = 0;
    }
  }
  completeBasis(ur, s, n);
  return { u: applyQ(qr, ur, n), s, v: vs };
}

/** Cyclic one-sided Jacobi: rotates column pairs of w (and v alike) until every pair is orthogonal. */
function rotateUntilOrthogonal(w: Float64Array, v: Float64Array, n: number): void {
  const tol = Math.sqrt(n) * EPS;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      const cp = p * n;
      for (let q = p + 1; q < n; q++) {
        const cq = q * n;
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < n; i++) {
          const a = w[cp + i], b = w[cq + i];
          alpha += a * a;
          beta += b * b;
          gamma += a * b;
        }
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // The angle that makes columns p and q orthogonal; the smaller root keeps the rotation below 45°.
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotatePair(w, cp, cq, n, c, s);
        rotatePair(v, cp, cq, n, c, s);
      }
    }
    if (!rotated) return;
  }
}

function rotatePair(x: Float64Array, cp: number, cq: number, n: number, c: number, s: number): void {
  for (let i = 0; i < n; i++) {
    const a = x[cp + i], b = x[cq + i];
    x[cp + i] = c * a - s * b;
    x[cq + i] = s * a + c * b;
  }
}

function sumSquares(x: Float64Array, o: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[o + i] * x[o + i];
  return s;
}

/** +1 or -1: the sign of the largest-magnitude entry of x[o..o+n] (first one on ties). */
function largestEntrySign(x: Float64Array, o: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (Math.abs(x[o + i]) > Math.abs(x[o + best])) best = i;
  return x[o + best] < 0 ? -1 : 1;
}

/**
 * Fills the columns of u ([n, n] column-major) whose singular value is zero with unit vectors made
 * orthogonal to all other columns, so U stays orthonormal for rank-deficient input.
 */
function completeBasis(u: Float64Array, s: Float64Array, n: number): void {
  const filled: number[] = [];
  for (let k = 0; k < n; k++) if (s[k] > 0) filled.push(k);
  let candidate = 0;
  for (let k = 0; k < n; k++) {
    if (s[k] > 0) continue;
    const o = k * n;
    for (; candidate < n; candidate++) {
      u.fill(0, o, o + n);
      u[o + candidate] = 1;
      // Gram-Schmidt twice ("twice is enough", Kahan/Parlett) against every column already in the basis.
      for (let pass = 0; pass < 2; pass++) {
        for (const f of filled) {
          let d = 0;
          for (let i = 0; i < n; i++) d += u[f * n + i] * u[o + i];
          for (let i = 0; i < n; i++) u[o + i] -= d * u[f * n + i];
        }
      }
      const norm = Math.sqrt(sumSquares(u, o, n));
      // A unit vector keeps at least 1/sqrt(n) of its length outside any proper subspace for some candidate.
      if (norm > 0.5 / Math.sqrt(n)) {
        for (let i = 0; i < n; i++) u[o + i] /= norm;
        filled.push(k);
        candidate++;
        break;
      }
    }
  }
}
