// Argument checks shared by the public functions, so that bad input fails early with a SvdOptionError.
import { SvdOptionError } from './svd-option-error.js';

/** Checks that rows and cols are positive integers. */
export function assertDims(rows: number, cols: number): void {
  if (!Number.isSafeInteger(rows) || rows < 1) throw new SvdOptionError('rows', `must be a positive integer, got ${rows}`);
  if (!Number.isSafeInteger(cols) || cols < 1) throw new SvdOptionError('cols', `must be a positive integer, got ${cols}`);
}

/**
 * Checks a row-major [rows, cols] matrix: sizes agree and every value is finite.
 * Returns ||a||_F² (float64), which callers need anyway and which costs nothing extra in this pass;
 * it is finite for any finite float32 matrix, and may be Infinity only for float64 entries beyond ~1e150.
 */
export function assertMatrix(a: Float32Array | Float64Array, rows: number, cols: number): number {
  assertDims(rows, cols);
  if (a.length !== rows * cols) {
    throw new SvdOptionError('a', `has ${a.length} elements, expected rows * cols = ${rows} * ${cols} = ${rows * cols}`);
  }
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    sum += x * x;
  }
  // One check at the end: NaN and ±Infinity both make the sum non-finite.
  if (!Number.isFinite(sum)) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) {
        const r = Math.floor(i / cols);
        throw new SvdOptionError('a', `element [${r}, ${i - r * cols}] is ${a[i]}; the matrix must be finite (check the producer of the data)`);
      }
    }
  }
  return sum;
}

/** Checks an optional non-negative integer option. */
export function assertCount(option: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new SvdOptionError(option, `must be an integer in [${min}, ${max}], got ${value}`);
  }
}
