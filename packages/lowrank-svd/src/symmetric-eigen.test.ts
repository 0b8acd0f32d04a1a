// Cyclic Jacobi eigen-decomposition of small symmetric matrices.
import { describe, expect, it } from 'vitest';
import { symmetricEigen } from './symmetric-eigen.js';
import { gaussianMatrix, orthogonalityError } from './test-utils/random-matrix.js';

// Jacobi works in float64 on O(1) entries: residuals of 1e-12 leave ~1e4 ulps of headroom.
const TOL = 1e-12;

function symmetric(n: number, seed: number): Float64Array {
  const g = gaussianMatrix(n, n, seed);
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] = (g[i * n + j] + g[j * n + i]) / 2;
  return m;
}

function residual(m: Float64Array, n: number, values: Float64Array, vectors: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    let mv = 0;
    for (let j = 0; j < n; j++) mv += m[i * n + j] * vectors[j * n + k];
    worst = Math.max(worst, Math.abs(mv - values[k] * vectors[i * n + k]));
  }
  return worst;
}

describe('symmetricEigen', () => {
  for (const n of [1, 2, 5, 31]) {
    it(`decomposes a random symmetric ${n}x${n} matrix`, () => {
      const m = symmetric(n, n);
      const { values, vectors } = symmetricEigen(m, n);
      expect(residual(m, n, values, vectors)).toBeLessThan(TOL * n);
      expect(orthogonalityError(vectors, n, n)).toBeLessThan(TOL);
      for (let k = 1; k < n; k++) expect(values[k]).toBeLessThanOrEqual(values[k - 1]);
      let trace = 0, sum = 0;
      for (let i = 0; i < n; i++) {
        trace += m[i * n + i];
        sum += values[i];
      }
      expect(Math.abs(trace - sum)).toBeLessThan(TOL * n);
    });
  }

  it('handles repeated and zero eigenvalues (a rank-2 projector scaled by 3)', () => {
    const n = 6;
    const m = new Float64Array(n * n);
    const u = [1, 1, 0, 0, 1, 1].map((x) => x / 2);
    const w = [0, 0, 1, -1, 0, 0].map((x) => x / Math.SQRT2);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] = 3 * (u[i] * u[j] + w[i] * w[j]);
    const { values, vectors } = symmetricEigen(m, n);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(3, 12);
    for (let k = 2; k < n; k++) expect(Math.abs(values[k])).toBeLessThan(TOL);
    expect(orthogonalityError(vectors, n, n)).toBeLessThan(TOL);
    expect(residual(m, n, values, vectors)).toBeLessThan(TOL);
  });
});
