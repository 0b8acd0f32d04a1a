// Both evaluations of AᵀA·Z (through A twice, or through the Gram matrix) and both forms of Q.
import { describe, expect, it } from 'vitest';
import { exactSvd } from './exact-svd.js';
import { pickRoute, type Route } from './range-finder.js';
import { randomizedSvd, type RandomizedSvdInternals } from './randomized-svd.js';
import { reconstructionError } from './reconstruction-error.js';
import { gaussianMatrix, matrixWithSpectrum, optimalError, orthogonalityError } from './test-utils/random-matrix.js';

const rows = 900, cols = 120;

function run(a: Float32Array, rank: number, route: Route) {
  const opts: RandomizedSvdInternals = { rank, route };
  return randomizedSvd(a, rows, cols, opts);
}

describe('range finder routes', () => {
  it('picks the route with fewer multiply-adds', () => {
    expect(pickRoute(256, 42, 32, 2)).toBe('gram'); // keys [seqLen, 2·128], rank 32: 41K vs 66K per row
    expect(pickRoute(1024, 42, 32, 2)).toBe('products'); // [seqLen, 8·128], rank 32: 557K vs 259K
    expect(pickRoute(1024, 170, 160, 2)).toBe('gram'); // rank 160: 688K vs 1071K
    expect(pickRoute(1024, 170, 160, 0)).toBe('products'); // no power iterations: 688K vs 375K
  });

  const cases: [string, () => Float32Array][] = [
    ['exponential decay (implicit Q)', () => Float32Array.from(matrixWithSpectrum(rows, cols, Array.from({ length: cols }, (_, i) => Math.exp(-i / 6)), 1))],
    ['signal + noise floor (implicit Q)', () => {
      const signal = matrixWithSpectrum(rows, cols, Array.from({ length: 8 }, (_, i) => 50 - 5 * i), 2);
      const noise = gaussianMatrix(rows, cols, 3);
      return Float32Array.from(signal, (x, i) => x + 0.05 * noise[i]);
    }],
    ['two outliers 1e4 above the rest (explicit Q: κ too large)', () => Float32Array.from(matrixWithSpectrum(rows, cols, Array.from({ length: cols }, (_, i) => (i < 2 ? 1e4 : Math.exp(-i / 30))), 4))],
    ['rank 6 < sketch (explicit Q: rank-deficient)', () => Float32Array.from(matrixWithSpectrum(rows, cols, [6, 5, 4, 3, 2, 1], 5))],
  ];
  for (const [name, make] of cases) {
    it(`'gram' and 'products' agree and are near-optimal: ${name}`, () => {
      const a = make();
      const exact = exactSvd(a, rows, cols);
      for (const rank of [4, 20]) {
        const g = run(a, rank, 'gram');
        const p = run(a, rank, 'products');
        // Same algorithm, different association of AᵀA·Z: only float64 rounding differs (measured <= 1.6e-14·σ1).
        for (let k = 0; k < rank; k++) expect(Math.abs(g.s[k] - p.s[k])).toBeLessThan(1e-11 * exact.s[0]);
        const opt = optimalError(exact.s, rank);
        for (const svd of [g, p]) {
          // Tolerance as in randomized-svd.test.ts: 1.02x the optimum + 1e-6 for float32 rounding.
          expect(reconstructionError(a, rows, cols, svd)).toBeLessThanOrEqual(1.02 * opt + 1e-6);
          expect(orthogonalityError(svd.u, rows, rank)).toBeLessThan(1e-6);
        }
      }
    });
  }
});
