// Splits a tensor's rows into bindable ranges: WebGPU caps one storage binding at
// maxStorageBufferBindingSize (128 MiB on lavapipe) while a lm-head weight is 1 GB.
import { ShapeError } from '@shadowkv/core';

/** One buffer's window for one part: bind [offset, offset+size) and add `shift` elements to indices. */
export interface BindingWindow {
  offset: number;
  size: number;
  /** 4-byte elements between the aligned binding start and the part's first row. */
  shift: number;
  /** The same distance in bytes (16-bit tensors count it in halves: byteShift / 2). */
  byteShift: number;
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
  const usable = maxBindingBytes - (offsetAlignment - 4) - 4;
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
      // Storage bindings are whole 4-byte words: a 16-bit part with an odd element count rounds up (the
      // buffer itself is rounded to 4 bytes, so the window stays inside it).
      const size = Math.max(4, Math.ceil((n * rb + (start - offset)) / 4) * 4);
      return { offset, size, shift: Math.floor((start - offset) / 4), byteShift: start - offset };
    });
    parts.push({ row0, rows: n, windows });
  }
  return parts;
}
