// ShadowKV factors A = U, B = S·Vᵀ, and the relative reconstruction error.
import { describe, expect, it } from 'vitest';
import { exactSvd } from './exact-svd.js';
import { lowRankFactors } from './low-rank-factors.js';
import { randomizedSvd } from './randomized-svd.js';
import { reconstructionError } from './reconstruction-error.js';
import { SvdOptionError } from './svd-option-error.js';
import { gaussianMatrix, matrixWithSpectrum, relativeError64 } from './test-utils/random-matrix.js';

describe('lowRankFactors', () => {
  it('gives A = U and B = S·Vᵀ with A·B equal to U·S·Vᵀ', () => {
    const rows = 200, cols = 48, rank = 6;
    const m = Float32Array.from(matrixWithSpectrum(rows, cols, Array.from({ length: cols }, (_, i) => 2 ** -i), 3));
    const svd = randomizedSvd(m, rows, cols, { rank, oversample: 4 });
    const { a, b } = lowRankFactors(svd);
    expect(a).toBe(svd.u); // shared, not copied
    expect(b.length).toBe(rank * cols);
    for (let k = 0; k < rank; k++) {
      for (let j = 0; j < cols; j++) {
        // b is s·vt rounded once to float32: relative 2^-24.
        expect(Math.abs(b[k * cols + j] - svd.s[k] * svd.vt[k * cols + j])).toBeLessThanOrEqual(6e-8 * Math.abs(svd.s[k] * svd.vt[k * cols + j]));
      }
    }
    // A·B reproduces the truncation: its error equals reconstructionError up to float32 rounding of b.
    let err2 = 0, norm2 = 0;
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
      let x = 0;
      for (let k = 0; k < rank; k++) x += a[i * rank + k] * b[k * cols + j];
      err2 += (x - m[i * cols + j]) ** 2;
      norm2 += m[i * cols + j] ** 2;
    }
    expect(Math.abs(Math.sqrt(err2 / norm2) - reconstructionError(m, rows, cols, svd))).toBeLessThan(1e-6);
  });
});

describe('reconstructionError', () => {
  it('agrees with a plain float64 computation and with Eckart–Young for an exact truncation', () => {
    const rows = 90, cols = 30;
    const s = Array.from({ length: cols }, (_, i) => 1 / (i + 1));
    const m = Float32Array.from(matrixWithSpectrum(rows, cols, s, 8));
    const full = exactSvd(m, rows, cols);
    const top = { ...full, rank: 7, u: new Float32Array(rows * 7), s: full.s.slice(0, 7), vt: full.vt.slice(0, 7 * cols) };
    for (let i = 0; i < rows; i++) for (let k = 0; k < 7; k++) top.u[i * 7 + k] = full.u[i * cols + k];
    const err = reconstructionError(m, rows, cols, top);
    expect(Math.abs(err - relativeError64(Float64Array.from(m), rows, cols, top))).toBeLessThan(1e-12);
    const tail = Math.sqrt(s.slice(7).reduce((x, y) => x + y * y, 0) / s.reduce((x, y) => x + y * y, 0));
    expect(err).toBeCloseTo(tail, 6); // float32 rounding of m, U, Vᵀ: ~1e-7 relative
    expect(reconstructionError(m, rows, cols, full)).toBeLessThan(1e-6);
  });

  it('is 0 for 0 ≈ 0, Infinity for a nonzero approximation of 0, and checks shapes', () => {
    const zero = new Float32Array(12);
    const svd = exactSvd(zero, 4, 3);
    expect(reconstructionError(zero, 4, 3, svd)).toBe(0);
    const other = exactSvd(Float32Array.from(gaussianMatrix(4, 3, 1)), 4, 3);
    expect(reconstructionError(zero, 4, 3, other)).toBe(Number.POSITIVE_INFINITY);
    expect(() => reconstructionError(new Float32Array(12), 3, 4, other)).toThrow(SvdOptionError);
    expect(() => reconstructionError(new Float32Array(12), 3, 4, other)).toThrow(/\[4, 3\] matrix, but a is \[3, 4\]/);
    expect(() => reconstructionError(zero, 4, 3, { ...other, rank: 2 })).toThrow(/do not match rank 2/);
  });
});
