// SVQB orthonormalisation: orthogonality, preserved span, ill-conditioned and rank-deficient input.
import { describe, expect, it } from 'vitest';
import { GaussianRandom } from './gaussian-random.js';
import { orthonormalizeColumns } from './orthonormalize-columns.js';
import { gaussianMatrix, orthogonalityError } from './test-utils/random-matrix.js';

// The result feeds float32 outputs; we still demand float64-level orthogonality (1e-13) because the
// stopping rule targets u·κ² <= 1e-13.
const ORTH_TOL = 1e-13;

/** Largest ||y_j − Q·Qᵀ·y_j|| / ||y_j||: 0 when every original column lies in the span of Q. */
function outsideSpan(y: Float64Array, q: Float64Array, n: number, l: number): number {
  let worst = 0;
  for (let j = 0; j < l; j++) {
    const col = Array.from({ length: n }, (_, i) => y[i * l + j]);
    const norm = Math.hypot(...col);
    if (norm === 0) continue;
    for (let k = 0; k < l; k++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += q[i * l + k] * col[i];
      for (let i = 0; i < n; i++) col[i] -= d * q[i * l + k];
    }
    worst = Math.max(worst, Math.hypot(...col) / norm);
  }
  return worst;
}

describe('orthonormalizeColumns (SVQB)', () => {
  it('orthonormalises a random tall matrix without changing its span', () => {
    const n = 500, l = 20;
    const y = gaussianMatrix(n, l, 1);
    const q = y.slice();
    orthonormalizeColumns(q, n, l, new GaussianRandom(0));
    expect(orthogonalityError(q, n, l)).toBeLessThan(ORTH_TOL);
    expect(outsideSpan(y, q, n, l)).toBeLessThan(1e-12);
  });

  it('copes with column norms spread over 1e-6..1e6 (needs a second pass)', () => {
    const n = 300, l = 12;
    const y = gaussianMatrix(n, l, 2);
    for (let i = 0; i < n; i++) for (let j = 0; j < l; j++) y[i * l + j] *= 10 ** (j - 6);
    // Make two columns nearly parallel: condition number ~1e5 beyond the scaling.
    for (let i = 0; i < n; i++) y[i * l + 4] = y[i * l + 5] / 10 + 1e-5 * y[i * l + 4];
    const q = y.slice();
    orthonormalizeColumns(q, n, l, new GaussianRandom(0));
    expect(orthogonalityError(q, n, l)).toBeLessThan(ORTH_TOL);
    expect(outsideSpan(y, q, n, l)).toBeLessThan(1e-9);
  });

  it('replaces dependent and zero columns by new orthonormal directions', () => {
    const n = 100, l = 10;
    const y = gaussianMatrix(n, l, 3);
    for (let i = 0; i < n; i++) {
      y[i * l + 3] = 2 * y[i * l + 1] - y[i * l + 2]; // exactly dependent
      y[i * l + 7] = 0; // zero column
    }
    const q = y.slice();
    orthonormalizeColumns(q, n, l, new GaussianRandom(0));
    expect(orthogonalityError(q, n, l)).toBeLessThan(ORTH_TOL);
    expect(outsideSpan(y, q, n, l)).toBeLessThan(1e-12);
  });

  it('turns an all-zero matrix into an orthonormal basis, and a square one into an orthogonal matrix', () => {
    const q = new Float64Array(50 * 5);
    orthonormalizeColumns(q, 50, 5, new GaussianRandom(1));
    expect(orthogonalityError(q, 50, 5)).toBeLessThan(ORTH_TOL);
    const sq = gaussianMatrix(8, 8, 5);
    orthonormalizeColumns(sq, 8, 8, new GaussianRandom(1));
    expect(orthogonalityError(sq, 8, 8)).toBeLessThan(ORTH_TOL);
  });
});
