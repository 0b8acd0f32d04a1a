// exactSvd on random, prescribed-spectrum, rank-deficient and extreme-scale matrices of many shapes.
import { describe, expect, it } from 'vitest';
import { exactSvd } from './exact-svd.js';
import { SvdOptionError } from './svd-option-error.js';
import { gaussianMatrix, matrixWithSpectrum, orthogonalityError, relativeError64, transpose } from './test-utils/random-matrix.js';

// U and Vᵀ are returned as float32: each entry carries a relative rounding of 2^-24 ≈ 6e-8, so
// reconstruction and orthogonality are checked at 1e-6 (about 16 ulps of float32, with sqrt(n) growth
// for n up to a few hundred). Singular values stay float64 and are checked tighter.
const F32_TOL = 1e-6;

describe('exactSvd', () => {
  const shapes: [number, number][] = [[1, 1], [7, 1], [1, 7], [40, 40], [37, 5], [5, 37], [200, 64], [3, 120]];
  for (const [rows, cols] of shapes) {
    it(`reconstructs a Gaussian [${rows}, ${cols}] matrix with orthonormal factors`, () => {
      const a = gaussianMatrix(rows, cols, rows * 31 + cols);
      const svd = exactSvd(a, rows, cols);
      const rank = Math.min(rows, cols);
      expect(svd.rank).toBe(rank);
      expect([svd.u.length, svd.s.length, svd.vt.length]).toEqual([rows * rank, rank, rank * cols]);
      expect(relativeError64(a, rows, cols, svd)).toBeLessThan(F32_TOL);
      expect(orthogonalityError(svd.u, rows, rank)).toBeLessThan(F32_TOL);
      expect(orthogonalityError(transpose(svd.vt, rank, cols), cols, rank)).toBeLessThan(F32_TOL);
      for (let k = 1; k < rank; k++) expect(svd.s[k]).toBeLessThanOrEqual(svd.s[k - 1]);
      expect(svd.s[rank - 1]).toBeGreaterThanOrEqual(0);
    });
  }

  it('recovers prescribed singular values of tall and wide matrices to float64 accuracy', () => {
    const s = [50, 20, 20, 3, 1, 0.5, 1e-3, 1e-6];
    for (const [rows, cols] of [[60, 8], [8, 60], [30, 30]]) {
      const svd = exactSvd(matrixWithSpectrum(rows, cols, s, rows), rows, cols);
      // 1e-12·σ1: A is built in float64, so its own rounding is ~1e-15·σ1.
      for (let k = 0; k < s.length; k++) expect(Math.abs(svd.s[k] - s[k])).toBeLessThan(1e-12 * s[0]);
      for (let k = s.length; k < svd.rank; k++) expect(svd.s[k]).toBeLessThan(1e-12 * s[0]);
    }
  });

  it('keeps U orthonormal for a rank-deficient matrix and for the zero matrix', () => {
    const rows = 30, cols = 12;
    const a = matrixWithSpectrum(rows, cols, [4, 3, 2, 1], 5);
    const svd = exactSvd(a, rows, cols);
    expect(svd.s[3]).toBeCloseTo(1, 12);
    expect(svd.s[4]).toBeLessThan(1e-13);
    expect(orthogonalityError(svd.u, rows, cols)).toBeLessThan(F32_TOL);
    expect(relativeError64(a, rows, cols, svd)).toBeLessThan(F32_TOL);

    const zero = exactSvd(new Float32Array(4 * 3), 4, 3);
    expect(Array.from(zero.s)).toEqual([0, 0, 0]);
    expect(orthogonalityError(zero.u, 4, 3)).toBeLessThan(F32_TOL);
    expect(orthogonalityError(transpose(zero.vt, 3, 3), 3, 3)).toBeLessThan(F32_TOL);
  });

  it('gives each row of vt a positive largest entry (for tall and wide input)', () => {
    for (const [rows, cols] of [[20, 6], [6, 20]]) {
      const svd = exactSvd(gaussianMatrix(rows, cols, 2), rows, cols);
      for (let k = 0; k < svd.rank; k++) {
        const row = Array.from(svd.vt.subarray(k * cols, (k + 1) * cols));
        expect(row.reduce((x, y) => (Math.abs(y) > Math.abs(x) ? y : x))).toBeGreaterThan(0);
      }
    }
  });

  it('accepts float64 entries whose squares overflow (1e200) and subnormal ones (1e-310)', () => {
    const a = gaussianMatrix(9, 4, 12);
    const base = exactSvd(a, 9, 4);
    for (const f of [1e200, 1e-310]) {
      const svd = exactSvd(a.map((x) => x * f), 9, 4);
      // Subnormals carry fewer digits: 1e-310 keeps ~45 bits, so compare at 1e-9 relative.
      for (let k = 0; k < 4; k++) expect(Math.abs(svd.s[k] / f - base.s[k])).toBeLessThan(1e-9 * base.s[0]);
      expect(orthogonalityError(svd.u, 9, 4)).toBeLessThan(F32_TOL);
    }
  });

  it('rejects bad sizes and non-finite values, naming the problem', () => {
    expect(() => exactSvd(new Float32Array(6), 2, 2)).toThrow(SvdOptionError);
    expect(() => exactSvd(new Float32Array(6), 2, 2)).toThrow(/6 elements, expected rows \* cols = 2 \* 2 = 4/);
    expect(() => exactSvd(new Float32Array(0), 0, 3)).toThrow(/"rows".*positive integer/);
    expect(() => exactSvd(new Float32Array(3), 1, 2.5)).toThrow(/"cols"/);
    const bad = new Float32Array(6);
    bad[4] = Number.NaN;
    expect(() => exactSvd(bad, 2, 3)).toThrow(/element \[1, 1\] is NaN/);
    bad[4] = Number.POSITIVE_INFINITY;
    expect(() => exactSvd(bad, 2, 3)).toThrow(/Infinity/);
  });
});
