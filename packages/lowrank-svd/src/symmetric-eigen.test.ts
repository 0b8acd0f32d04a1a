// Symmetric eigen-decomposition: cyclic Jacobi (symmetricEigen) and Householder + implicit QL (tridiagonalEigen)
// pass the same checks, and agree with each other on larger matrices.
import { describe, expect, it } from 'vitest';
import { symmetricEigen, type SymmetricEigen } from './symmetric-eigen.js';
import { tridiagonalEigen } from './tridiagonal-eigen.js';
import { gaussianMatrix, orthogonalityError, randomOrthonormal, seededNormal } from './test-utils/random-matrix.js';

// Both work in float64 on O(1) entries: residuals of 1e-12 leave ~1e4 ulps of headroom.
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

const SOLVERS: [string, (m: Float64Array, n: number) => SymmetricEigen][] = [
  ['symmetricEigen', symmetricEigen],
  ['tridiagonalEigen', tridiagonalEigen],
];

describe.each(SOLVERS)('%s', (_name, solve) => {
  for (const n of [1, 2, 3, 5, 31, 64]) {
    it(`decomposes a random symmetric ${n}x${n} matrix`, () => {
      const m = symmetric(n, n);
      const { values, vectors } = solve(m, n);
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
    const { values, vectors } = solve(m, n);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(3, 12);
    for (let k = 2; k < n; k++) expect(Math.abs(values[k])).toBeLessThan(TOL);
    expect(orthogonalityError(vectors, n, n)).toBeLessThan(TOL);
    expect(residual(m, n, values, vectors)).toBeLessThan(TOL);
  });

  it('decomposes matrices that are already diagonal or tridiagonal', () => {
    const n = 7;
    const diag = new Float64Array(n * n);
    for (let i = 0; i < n; i++) diag[i * n + i] = [3, -1, 4, 1, -5, 9, 2][i];
    const dr = solve(diag, n);
    expect(Array.from(dr.values)).toEqual([9, 4, 3, 2, 1, -1, -5]);
    expect(orthogonalityError(dr.vectors, n, n)).toBeLessThan(TOL);
    const tri = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      tri[i * n + i] = 2;
      if (i + 1 < n) tri[i * n + i + 1] = tri[(i + 1) * n + i] = -1;
    }
    // Eigenvalues of the second-difference matrix: 2 − 2·cos(kπ/(n+1)), k = 1..n.
    const tr = solve(tri, n);
    const expected = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1))).sort((x, y) => y - x);
    for (let k = 0; k < n; k++) expect(Math.abs(tr.values[k] - expected[k])).toBeLessThan(TOL);
    expect(residual(tri, n, tr.values, tr.vectors)).toBeLessThan(TOL);
  });

  it('handles a Gram matrix with eigenvalues spread over 12 orders of magnitude', () => {
    const n = 40;
    const g = gaussianMatrix(n, n, 11);
    const scaled = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) scaled[i * n + j] = g[i * n + j] * 10 ** (-j / 6.5);
    const m = new Float64Array(n * n); // m = XᵀX for X = g·diag(10^(-j/6.5))
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += scaled[k * n + i] * scaled[k * n + j];
      m[i * n + j] = acc;
    }
    const { values, vectors } = solve(m, n);
    // Absolute accuracy n·u·‖M‖ is what both promise; the residual is measured against ‖M‖ ≈ values[0].
    expect(residual(m, n, values, vectors)).toBeLessThan(TOL * values[0]);
    expect(orthogonalityError(vectors, n, n)).toBeLessThan(TOL);
  });
  it('converges on a Gram matrix of rank-deficient keys: a cluster of eigenvalues at rounding-noise level', () => {
    // 14 strong eigenvalues and 114 of ±1e-12 (1e-16 of the largest): the shape of AᵀA for the keys of a
    // repetitive prompt (found in a CLI run, where QL stalled on the noise cluster before deflating at u·‖T‖).
    const n = 128;
    for (const seed of [1, 3]) {
      const q = randomOrthonormal(n, n, seed);
      const rnd = seededNormal(seed + 100);
      const lam = Array.from({ length: n }, (_, k) => (k < 14 ? 2e4 / (k + 1) : 1e-12 * rnd()));
      const m = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += q[i * n + k] * lam[k] * q[j * n + k];
        m[i * n + j] = acc;
      }
      const { values, vectors } = solve(m, n);
      for (let k = 0; k < 14; k++) expect(Math.abs(values[k] - lam[k])).toBeLessThan(TOL * n * lam[0]);
      expect(residual(m, n, values, vectors)).toBeLessThan(TOL * n * lam[0]);
      expect(orthogonalityError(vectors, n, n)).toBeLessThan(TOL * n);
    }
  });
});

describe('tridiagonalEigen against symmetricEigen', () => {
  it('finds the same spectrum and leading subspace of a 160x160 matrix', () => {
    const n = 160;
    const m = symmetric(n, 42);
    const jac = symmetricEigen(m, n);
    const ql = tridiagonalEigen(m, n);
    for (let k = 0; k < n; k++) expect(Math.abs(ql.values[k] - jac.values[k])).toBeLessThan(TOL * n);
    expect(residual(m, n, ql.values, ql.vectors)).toBeLessThan(TOL * n);
    expect(orthogonalityError(ql.vectors, n, n)).toBeLessThan(TOL * n);
    // Eigenvectors agree up to sign where eigenvalues are separated.
    for (let k = 0; k < 5; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += ql.vectors[i * n + k] * jac.vectors[i * n + k];
      expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-9);
    }
  });
});
