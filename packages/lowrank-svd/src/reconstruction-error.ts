// Relative Frobenius error of a truncated SVD, the accuracy number to compare with Eckart–Young.
import { SvdOptionError } from './svd-option-error.js';
import type { SvdResult } from './svd-result.js';
import { multiplyPackedInto, packColumns } from './tall-products.js';
import { assertMatrix } from './validate-matrix.js';

const BLOCK_ROWS = 64;

/**
 * ||A − U·diag(s)·Vᵀ||_F / ||A||_F, in float64 (0 when both are zero, Infinity when only A is zero).
 * Costs rows·cols·rank multiply-adds, like one pass of the randomized SVD.
 * @throws SvdOptionError if svd does not have the shape [rows, cols].
 */
export function reconstructionError(a: Float32Array, rows: number, cols: number, svd: SvdResult): number {
  const norm2 = assertMatrix(a, rows, cols);
  const { rank } = svd;
  if (svd.rows !== rows || svd.cols !== cols) {
    throw new SvdOptionError('svd', `is for a [${svd.rows}, ${svd.cols}] matrix, but a is [${rows}, ${cols}]`);
  }
  if (svd.u.length !== rows * rank || svd.vt.length !== rank * cols || svd.s.length !== rank) {
    throw new SvdOptionError('svd', `u, s, vt lengths ${svd.u.length}, ${svd.s.length}, ${svd.vt.length} do not match rank ${rank}`);
  }
  const sv = new Float64Array(cols * rank); // [rank, cols] = diag(s)·Vᵀ
  for (let k = 0; k < rank; k++) {
    for (let j = 0; j < cols; j++) sv[k * cols + j] = svd.s[k] * svd.vt[k * cols + j];
  }
  const packed = packColumns(sv, rank, cols);
  const block = new Float64Array(BLOCK_ROWS * cols);
  let err2 = 0;
  for (let i0 = 0; i0 < rows; i0 += BLOCK_ROWS) {
    const b = Math.min(BLOCK_ROWS, rows - i0);
    multiplyPackedInto(block, svd.u.subarray(i0 * rank, (i0 + b) * rank), b, rank, packed, cols);
    const o = i0 * cols;
    for (let p = 0; p < b * cols; p++) {
      const d = a[o + p] - block[p];
      err2 += d * d;
    }
  }
  if (norm2 === 0) return err2 === 0 ? 0 : Number.POSITIVE_INFINITY;
  return Math.sqrt(err2 / norm2);
}
