// The blocked products with the big matrix against plain triple loops, across the remainder paths.
import { describe, expect, it } from 'vitest';
import { multiplyInto, multiplyTransposedInto } from './tall-products.js';
import { gaussianMatrix } from './test-utils/random-matrix.js';

// Reference products by the textbook triple loop in float64.
function naiveAz(a: ArrayLike<number>, rows: number, cols: number, z: ArrayLike<number>, l: number): Float64Array {
  const y = new Float64Array(rows * l);
  for (let i = 0; i < rows; i++) for (let j = 0; j < l; j++) {
    let s = 0;
    for (let k = 0; k < cols; k++) s += a[i * cols + k] * z[k * l + j];
    y[i * l + j] = s;
  }
  return y;
}

function maxDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

// The blocked kernels only reorder float64 sums of at most a few hundred O(1) terms: 1e-12 is ~1e4 ulps.
const TOL = 1e-12;

describe('multiplyInto (A·Z)', () => {
  // Sizes around the 4x4 blocking and the remainder paths: 1, 3, 4, 5, 7, 9.
  for (const [rows, cols, l] of [[1, 1, 1], [3, 5, 3], [4, 4, 4], [5, 7, 5], [9, 3, 7], [13, 17, 9], [64, 33, 12]]) {
    it(`matches the triple loop for [${rows}, ${cols}]·[${cols}, ${l}], float32 and float64 A`, () => {
      const a = gaussianMatrix(rows, cols, rows * 7 + cols);
      const z = gaussianMatrix(cols, l, l + 100);
      const a32 = Float32Array.from(a);
      const y = new Float64Array(rows * l).fill(Number.NaN);
      multiplyInto(y, a32, rows, cols, z, l);
      expect(maxDiff(y, naiveAz(a32, rows, cols, z, l))).toBeLessThan(TOL);
      multiplyInto(y, a, rows, cols, z, l);
      expect(maxDiff(y, naiveAz(a, rows, cols, z, l))).toBeLessThan(TOL);
    });
  }
});

describe('multiplyTransposedInto (Aᵀ·Q)', () => {
  // Row counts that cross the 128-row tile boundary, with a short last tile.
  for (const [rows, mx, my] of [[1, 1, 1], [5, 3, 6], [127, 9, 5], [128, 4, 8], [131, 10, 7], [300, 13, 11]]) {
    it(`matches the triple loop for [${rows}, ${mx}]ᵀ·[${rows}, ${my}]`, () => {
      const x = Float32Array.from(gaussianMatrix(rows, mx, rows + mx));
      const y = gaussianMatrix(rows, my, rows + my + 1);
      const out = new Float64Array(mx * my).fill(Number.NaN);
      multiplyTransposedInto(out, x, mx, y, my, rows);
      const ref = new Float64Array(mx * my);
      for (let c = 0; c < mx; c++) for (let j = 0; j < my; j++) {
        let s = 0;
        for (let i = 0; i < rows; i++) s += x[i * mx + c] * y[i * my + j];
        ref[c * my + j] = s;
      }
      expect(maxDiff(out, ref)).toBeLessThan(TOL * Math.sqrt(rows));
    });
  }

  it('computes the upper triangle of a Gram matrix with upperOnly', () => {
    const rows = 200, l = 9;
    const y = gaussianMatrix(rows, l, 4);
    const full = new Float64Array(l * l);
    const upper = new Float64Array(l * l);
    multiplyTransposedInto(full, y, l, y, l, rows);
    multiplyTransposedInto(upper, y, l, y, l, rows, true);
    for (let i = 0; i < l; i++) for (let j = i; j < l; j++) expect(Math.abs(upper[i * l + j] - full[i * l + j])).toBeLessThan(1e-12);
    expect(full[3 * l + 5]).toBeCloseTo(full[5 * l + 3], 12);
  });
});
