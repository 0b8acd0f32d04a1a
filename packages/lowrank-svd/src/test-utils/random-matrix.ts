// Test matrices with a prescribed spectrum, built independently of the code under test
// (random Householder reflections, a seeded PRNG of their own) so exact singular values are known.
import { mulberry32 } from '@shadowkv/core';

/** Normals from core's mulberry32 (a dev dependency), deliberately not the package's GaussianRandom. */
export function seededNormal(seed: number): () => number {
  const next = mulberry32(seed);
  // (k + 0.5) / 2^32 for mulberry32's k / 2^32, exactly (2k + 1 fits a float64 mantissa): strictly inside
  // (0, 1), so log never sees 0.
  const uniform = (): number => next() + 2 ** -33;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Gaussian matrix [rows, cols], float32 or float64. */
export function gaussianMatrix(rows: number, cols: number, seed: number): Float64Array {
  const next = seededNormal(seed);
  const a = new Float64Array(rows * cols);
  for (let i = 0; i < a.length; i++) a[i] = next();
  return a;
}

/**
 * [n, k] row-major with orthonormal columns (k <= n): the first k columns of a product of k random
 * Householder reflections, accumulated in float64.
 */
export function randomOrthonormal(n: number, k: number, seed: number): Float64Array {
  const next = seededNormal(seed);
  const q = new Float64Array(n * k);
  for (let j = 0; j < k; j++) q[j * k + j] = 1;
  const v = new Float64Array(n);
  for (let r = 0; r < Math.min(k + 2, n); r++) {
    let vv = 0;
    for (let i = 0; i < n; i++) {
      v[i] = next();
      vv += v[i] * v[i];
    }
    for (let j = 0; j < k; j++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += v[i] * q[i * k + j];
      const f = (2 * d) / vv;
      for (let i = 0; i < n; i++) q[i * k + j] -= f * v[i];
    }
  }
  return q;
}

/** A = U·diag(s)·Vᵀ ([rows, cols], float64) with random orthonormal U, V and the given s (length <= min(rows, cols)). */
export function matrixWithSpectrum(rows: number, cols: number, s: ArrayLike<number>, seed: number): Float64Array {
  const k = s.length;
  const u = randomOrthonormal(rows, k, seed);
  const v = randomOrthonormal(cols, k, seed + 1);
  const a = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let p = 0; p < k; p++) {
      const f = u[i * k + p] * s[p];
      if (f === 0) continue;
      for (let j = 0; j < cols; j++) a[i * cols + j] += f * v[j * k + p];
    }
  }
  return a;
}

/** Largest |(XᵀX − I)[i][j]| for X [n, k] row-major: 0 for exactly orthonormal columns. */
export function orthogonalityError(x: ArrayLike<number>, n: number, k: number): number {
  let worst = 0;
  for (let p = 0; p < k; p++) {
    for (let q = p; q < k; q++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += x[i * k + p] * x[i * k + q];
      worst = Math.max(worst, Math.abs(d - (p === q ? 1 : 0)));
    }
  }
  return worst;
}

/** Rows of vt [k, n] as columns: the transpose, so orthogonalityError can check row-orthonormality. */
export function transpose(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
  return t;
}

/** ||A − U·diag(s)·Vᵀ||_F / ||A||_F in float64 for float64 A (the package's reconstructionError takes float32). */
export function relativeError64(a: Float64Array, rows: number, cols: number, svd: { u: ArrayLike<number>; s: ArrayLike<number>; vt: ArrayLike<number>; rank: number }): number {
  let err = 0, norm = 0;
  const row = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    row.fill(0);
    for (let k = 0; k < svd.rank; k++) {
      const f = svd.u[i * svd.rank + k] * svd.s[k];
      for (let j = 0; j < cols; j++) row[j] += f * svd.vt[k * cols + j];
    }
    for (let j = 0; j < cols; j++) {
      const x = a[i * cols + j];
      err += (x - row[j]) ** 2;
      norm += x * x;
    }
  }
  return Math.sqrt(err / norm);
}

/** The Eckart–Young optimum: the relative error of the best rank-r approximation, from all singular values. */
export function optimalError(s: ArrayLike<number>, r: number): number {
  let tail = 0, total = 0;
  for (let i = 0; i < s.length; i++) {
    total += s[i] * s[i];
    if (i >= r) tail += s[i] * s[i];
  }
  return Math.sqrt(tail / total);
}
