// gramSvd against exactSvd: same leading singular values and subspaces, and its refusal on spectra it cannot resolve.
import { describe, expect, it } from 'vitest';
import { exactSvd } from './exact-svd.js';
import { gramSvd } from './gram-svd.js';
import { randomizedSvd } from './randomized-svd.js';
import { gaussianMatrix, matrixWithSpectrum, orthogonalityError, relativeError64, transpose } from './test-utils/random-matrix.js';

// U and Vᵀ come back as float32 (see exact-svd.test.ts): 1e-6 for orthogonality and reconstruction.
const F32_TOL = 1e-6;

/** Key-like spectrum: a few strong directions, then a slowly decaying tail. */
function keySpectrum(n: number): number[] {
  return Array.from({ length: n }, (_, k) => (k < 4 ? 100 / (k + 1) : 10 * Math.exp(-k / 20)));
}

describe('gramSvd', () => {
  it('matches exactSvd on the leading components of a tall key-like matrix', () => {
    const rows = 600, cols = 48, rank = 12;
    const a = matrixWithSpectrum(rows, cols, keySpectrum(cols), 7);
    const exact = exactSvd(a, rows, cols);
    const svd = gramSvd(a, rows, cols, () => rank)!;
    expect(svd.rank).toBe(rank);
    // σ_k to cols·u·(σ1/σk)² (file comment of gram-svd.ts): here below 1e-11 relative; 1e-10 leaves room.
    for (let k = 0; k < rank; k++) expect(Math.abs(svd.s[k] - exact.s[k])).toBeLessThan(1e-10 * exact.s[k]);
    // Same vectors, same signs: entries agree to float32 rounding.
    for (let i = 0; i < rank * cols; i++) expect(Math.abs(svd.vt[i] - exact.vt[i])).toBeLessThan(F32_TOL);
    for (let i = 0; i < rows; i++) {
      for (let k = 0; k < rank; k++) expect(Math.abs(svd.u[i * rank + k] - exact.u[i * exact.rank + k])).toBeLessThan(F32_TOL);
    }
    expect(orthogonalityError(svd.u, rows, rank)).toBeLessThan(F32_TOL);
    expect(orthogonalityError(transpose(svd.vt, rank, cols), cols, rank)).toBeLessThan(F32_TOL);
  });

  it('reconstructs a full-rank Gaussian matrix when every component is kept', () => {
    const rows = 300, cols = 40;
    const a = gaussianMatrix(rows, cols, 3);
    const svd = gramSvd(a, rows, cols, (s) => s.length)!;
    expect(relativeError64(a, rows, cols, svd)).toBeLessThan(F32_TOL);
  });

  it('gives the pick function every singular value, descending', () => {
    const rows = 100, cols = 10;
    let seen: number[] = [];
    gramSvd(matrixWithSpectrum(rows, cols, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5], 1), rows, cols, (s) => {
      seen = Array.from(s);
      return 3;
    });
    expect(seen.length).toBe(cols);
    expect(seen[0]).toBeCloseTo(9, 10);
    expect(seen[9]).toBeCloseTo(0.5, 8);
  });

  it('refuses (undefined) when a kept singular value is below 1e-4·σ1, and for the zero matrix', () => {
    const rows = 80, cols = 6;
    const a = matrixWithSpectrum(rows, cols, [1, 0.5, 1e-6, 1e-7, 0, 0], 2);
    expect(gramSvd(a, rows, cols, () => 2)).toBeDefined();
    expect(gramSvd(a, rows, cols, () => 3)).toBeUndefined();
    expect(gramSvd(new Float32Array(rows * cols), rows, cols, () => 1)).toBeUndefined();
  });

  it('is what randomizedSvd uses once rank + oversample covers the columns, with exactSvd as the fallback', () => {
    const rows = 500, cols = 32;
    const a = Float32Array.from(matrixWithSpectrum(rows, cols, keySpectrum(cols), 5));
    const exact = exactSvd(a, rows, cols);
    const viaOversample = randomizedSvd(a, rows, cols, { rank: 8, oversample: cols });
    for (let k = 0; k < 8; k++) expect(Math.abs(viaOversample.s[k] - exact.s[k])).toBeLessThan(1e-10 * exact.s[k]);
    // A rank-deficient matrix asked for more components than it has: the Gram route refuses, QR + Jacobi answers
    // with an orthonormal U (completed past the numerical rank).
    const deficient = Float32Array.from(matrixWithSpectrum(rows, cols, [3, 2, 1], 6));
    const svd = randomizedSvd(deficient, rows, cols, { rank: 6, oversample: cols });
    expect(svd.rank).toBe(6);
    expect(orthogonalityError(svd.u, rows, 6)).toBeLessThan(F32_TOL);
  });
});
