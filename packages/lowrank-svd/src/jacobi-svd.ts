// Full SVD of a small tall float64 matrix: Householder QR, then one-sided (Hestenes) Jacobi on Rᵀ.
// One-sided Jacobi is accurate to float64 rounding even for tiny singular values. QR first makes each sweep
// cost n³ instead of m·n² (m can be a few thousand rows, n a few hundred), and working on Rᵀ rather than R
// converges much faster on graded spectra (Drmač & Veselić 2008; measured 8 vs 39 sweeps for e^(-i/8), n = 256).
import { applyQ, extractR, householderQrInPlace } from './householder-qr.js';

/** x = U·diag(s)·Vᵀ with U [m, n], V [n, n] (column-major, orthonormal columns) and s descending. */
export interface ColumnMajorSvd {
  u: Float64Array;
  s: Float64Array;
  v: Float64Array;
}

const EPS = 2.220446049250313e-16;
const MAX_SWEEPS = 80;
/**
 * After scaling x to max |entry| = 1, columns with norm below this are exact zeros: their squares would sink
 * into float64's subnormal range, where orthogonality cannot be measured. Their right vectors are rebuilt
 * by completeBasis instead of normalised; dropping them changes the matrix by < 1e-140 relative.
 */
const ZERO = 1e-140;

/**
 * SVD of x ([m, n] column-major, m >= n). Overwrites x.
 * Right vectors are sign-normalised: the largest-magnitude entry of every column of V is positive,
 * so results are reproducible and comparable across methods.
 */
export function svdColumnMajor(x: Float64Array, m: number, n: number): ColumnMajorSvd {
  // Scale to max |entry| = 1 so that no sum of squares (QR and Jacobi both use them) overflows or underflows.
  let maxAbs = 0;
  for (let i = 0; i < m * n; i++) maxAbs = Math.max(maxAbs, Math.abs(x[i]));
  const scale = maxAbs > 0 ? maxAbs : 1; // divide, not multiply by 1/maxAbs, which overflows for subnormal maxAbs
  if (scale !== 1) for (let i = 0; i < m * n; i++) x[i] /= scale;
  const qr = householderQrInPlace(x, m, n);
  const r = extractR(qr);
  // Rᵀ·J = W with orthogonal columns, i.e. R = J·Σ·V̂ᵀ: J (the accumulated rotations) holds the left vectors
  // of R and the normalised columns of W the right vectors. Then x = (Q·J)·Σ·V̂ᵀ.
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) w[i * n + j] = r[j * n + i];
  }
  const jrot = new Float64Array(n * n);
  for (let i = 0; i < n; i++) jrot[i * n + i] = 1;
  rotateUntilOrthogonal(w, jrot, n);

  const norms = new Float64Array(n);
  for (let j = 0; j < n; j++) norms[j] = Math.sqrt(sumSquares(w, j * n, n));
  const order = Array.from({ length: n }, (_, j) => j).sort((p, q) => norms[q] - norms[p]);
  const s = new Float64Array(n);
  const v = new Float64Array(n * n);
  const ur = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const j = order[k];
    s[k] = norms[j] > ZERO ? norms[j] * scale : 0;
    if (s[k] > 0) {
      const sign = largestEntrySign(w, j * n, n);
      const f = sign / norms[j];
      for (let i = 0; i < n; i++) v[k * n + i] = w[j * n + i] * f;
      for (let i = 0; i < n; i++) ur[k * n + i] = sign * jrot[j * n + i];
    } else {
      for (let i = 0; i < n; i++) ur[k * n + i] = jrot[j * n + i];
    }
  }
  // Zero singular values leave holes in V; their sign is free, so fix it after filling them in.
  if (completeBasis(v, s, n)) {
    for (let k = 0; k < n; k++) {
      if (s[k] > 0 || largestEntrySign(v, k * n, n) > 0) continue;
      for (let i = 0; i < n; i++) v[k * n + i] = -v[k * n + i];
    }
  }
  return { u: applyQ(qr, ur, n), s, v };
}

/**
 * Cyclic one-sided Jacobi: rotates column pairs of w (and v alike) until every pair is orthogonal.
 * Column norms are carried along with the exact update rule (α' = α − tγ, β' = β + tγ) so each pair costs
 * one dot product, and recomputed from scratch every sweep so rounding cannot accumulate.
 */
function rotateUntilOrthogonal(w: Float64Array, v: Float64Array, n: number): number {
  const tol = Math.sqrt(n) * EPS;
  const norm2 = new Float64Array(n);
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    for (let j = 0; j < n; j++) norm2[j] = sumSquares(w, j * n, n);
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      const cp = p * n;
      for (let q = p + 1; q < n; q++) {
        const cq = q * n;
        const alpha = norm2[p], beta = norm2[q];
        if (alpha < ZERO * ZERO || beta < ZERO * ZERO) continue; // a zero column is orthogonal to everything
        let gamma = 0;
        for (let i = 0; i < n; i++) gamma += w[cp + i] * w[cq + i];
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha) * Math.sqrt(beta)) continue;
        rotated = true;
        // The angle that makes columns p and q orthogonal; the smaller root keeps the rotation below 45°.
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotatePair(w, cp, cq, n, c, s);
        rotatePair(v, cp, cq, n, c, s);
        norm2[p] = Math.max(0, alpha - t * gamma);
        norm2[q] = beta + t * gamma;
      }
    }
    if (!rotated) return sweep;
  }
  return MAX_SWEEPS;
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
 * orthogonal to all other columns, so the factor stays orthonormal for rank-deficient input.
 * Returns whether anything was filled.
 */
function completeBasis(u: Float64Array, s: Float64Array, n: number): boolean {
  const filled: number[] = [];
  for (let k = 0; k < n; k++) if (s[k] > 0) filled.push(k);
  if (filled.length === n) return false;
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
  return true;
}
