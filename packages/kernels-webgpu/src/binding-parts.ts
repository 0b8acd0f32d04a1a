// Splits a tensor's rows into bindable ranges: WebGPU caps one storage binding at
// maxStorageBufferBindingSize (128 MiB on lavapipe) while a lm-head weight is 1 GB.
import { ShapeError } from '@shadowkv/core';

/** One buffer's window for one part: bind [offset, offset+size) and add `shift` elements to indices. */
export interface BindingWindow {
  offset: number;
  size: number;
  /** Elements between the aligned binding start and the part's first row. */
  shift: number;
}

/** Rows [row0, row0+rows) of every buffer that shares the split dimension. */
export interface BindingPart {
  row0: number;
  rows: number;
  windows: BindingWindow[];
}

export interface BindingLimits {
  /** Largest storage binding in bytes. */
  maxBindingBytes: number;
  /** Required alignment of a binding offset in bytes. */
  offsetAlignment: number;
}

/**
 * Splits `rows` rows into parts so that, for every buffer b with `rowBytes[b]` bytes per row, the rows
 * of one part fit one binding. Offsets are aligned down, so each window carries an element shift.
 * Zero rows give no parts (nothing to dispatch).
 * @throws ShapeError when a single row of some buffer is larger than a binding.
 */
export function splitRows(op: string, rows: number, rowBytes: readonly number[], limits: BindingLimits): BindingPart[] {
  const { maxBindingBytes, offsetAlignment } = limits;
  // Aligning the offset down can add up to (alignment - 4) bytes in front of the first row.
  const usable = maxBindingBytes - (offsetAlignment - 4);
  let perPart = rows;
  for (const rb of rowBytes) {
    if (rb > usable) {
      throw new ShapeError(op, `one row is ${rb} bytes, more than this adapter binds at once (maxStorageBufferBindingSize ${maxBindingBytes}); use a smaller inner dimension`);
    }
    if (rb > 0) perPart = Math.min(perPart, Math.floor(usable / rb));
  }
  perPart = Math.max(perPart, 1);
  const parts: BindingPart[] = [];
  for (let row0 = 0; row0 < rows; row0 += perPart) {
    const n = Math.min(perPart, rows - row0);
    const windows = rowBytes.map((rb) => {
      const start = row0 * rb;
      const offset = start - (start % offsetAlignment);
      const size = Math.max(4, n * rb + (start - offset));
      return { offset, size, shift: (start - offset) / 4 };
    });
    parts.push({ row0, rows: n, windows });
  }
  return parts;
}
