// The float64 SVD core (QR + one-sided Jacobi) at float64 tolerances, before float32 rounding of outputs.
import { describe, expect, it } from 'vitest';
import { svdColumnMajor } from './jacobi-svd.js';
import { gaussianMatrix, matrixWithSpectrum, orthogonalityError, transpose } from './test-utils/random-matrix.js';

// The float64 core: everything here should hold to a few hundred ulps of float64.
const TOL = 1e-13;

/** Runs the column-major core on a row-major [m, n] matrix and returns row-major U [m, n], s, V [n, n]. */
function svd64(a: Float64Array, m: number, n: number) {
  const r = svdColumnMajor(transpose(a, m, n), m, n);
  return { u: transpose(r.u, n, m), s: r.s, v: transpose(r.v, n, n) };
}

function maxResidual(a: Float64Array, m: number, n: number, r: ReturnType<typeof svd64>): number {
  let worst = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let x = 0;
    for (let k = 0; k < n; k++) x += r.u[i * n + k] * r.s[k] * r.v[j * n + k];
    worst = Math.max(worst, Math.abs(x - a[i * n + j]));
  }
  return worst;
}

describe('svdColumnMajor (QR + one-sided Jacobi, float64)', () => {
  it('recovers a prescribed spectrum spanning 12 orders of magnitude', () => {
    const m = 120, n = 40;
    const s = Array.from({ length: n }, (_, i) => 10 ** (-12 * i / (n - 1)));
    const a = matrixWithSpectrum(m, n, s, 11);
    const r = svd64(a, m, n);
    // Absolute error relative to σ1: the construction of A itself rounds at ~1e-16·σ1.
    for (let i = 0; i < n; i++) expect(Math.abs(r.s[i] - s[i])).toBeLessThan(TOL);
    expect(orthogonalityError(r.u, m, n)).toBeLessThan(TOL);
    expect(orthogonalityError(r.v, n, n)).toBeLessThan(TOL);
    expect(maxResidual(a, m, n, r)).toBeLessThan(TOL);
  });

  for (const [m, n] of [[1, 1], [9, 1], [6, 6], [33, 17]]) {
    it(`factorises a Gaussian [${m}, ${n}] matrix`, () => {
      const a = gaussianMatrix(m, n, m + n);
      const r = svd64(a, m, n);
      expect(maxResidual(a, m, n, r)).toBeLessThan(TOL * 10);
      expect(orthogonalityError(r.u, m, n)).toBeLessThan(TOL);
      expect(orthogonalityError(r.v, n, n)).toBeLessThan(TOL);
      for (let k = 1; k < n; k++) expect(r.s[k]).toBeLessThanOrEqual(r.s[k - 1]);
    });
  }

  it('keeps U and V orthonormal when the matrix has exact zero columns, and completes V for the zero matrix', () => {
    const m = 10, n = 6;
    const a = gaussianMatrix(m, n, 3);
    for (let i = 0; i < m; i++) {
      a[i * n + 1] = 0;
      a[i * n + 4] = 0;
    }
    const r = svd64(a, m, n);
    // Rank 4: the last two values are rounding-level (R's rows 1 and 4 are not zero, so they need not be exact 0).
    expect(r.s[3]).toBeGreaterThan(0.1);
    expect(r.s[4]).toBeLessThan(1e-14 * r.s[0]);
    expect(r.s[5]).toBeLessThan(1e-14 * r.s[0]);
    expect(orthogonalityError(r.u, m, n)).toBeLessThan(TOL);
    expect(orthogonalityError(r.v, n, n)).toBeLessThan(TOL);
    expect(maxResidual(a, m, n, r)).toBeLessThan(TOL * 10);

    const zero = svd64(new Float64Array(m * n), m, n);
    expect(Array.from(zero.s)).toEqual(new Array(n).fill(0));
    expect(orthogonalityError(zero.u, m, n)).toBeLessThan(TOL);
    expect(orthogonalityError(zero.v, n, n)).toBeLessThan(TOL);
  });

  it('is scale-invariant far from 1 (no overflow or underflow of squared norms)', () => {
    const m = 12, n = 5;
    const a = gaussianMatrix(m, n, 6);
    const base = svd64(a, m, n);
    for (const f of [1e-200, 1e200]) {
      const r = svd64(a.map((x) => x * f), m, n);
      for (let k = 0; k < n; k++) expect(Math.abs(r.s[k] / f - base.s[k])).toBeLessThan(TOL * base.s[0]);
      expect(orthogonalityError(r.v, n, n)).toBeLessThan(TOL);
    }
  });

  it('makes the largest entry of each right singular vector positive', () => {
    const a = gaussianMatrix(20, 5, 8);
    const r = svd64(a, 20, 5);
    for (let k = 0; k < 5; k++) {
      const col = Array.from({ length: 5 }, (_, j) => r.v[j * 5 + k]);
      const big = col.reduce((x, y) => (Math.abs(y) > Math.abs(x) ? y : x));
      expect(big).toBeGreaterThan(0);
    }
  });
});
