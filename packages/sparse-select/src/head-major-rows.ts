// Host view of a head-major KV cache read back from a backend, the input of the prefill-time helpers.
import { ShapeError } from '@shadowkv/core';

/**
 * Rows of a head-major cache `[nKvHeads, rowStride, headDim]` on the host: row t of KV head h starts at
 * `(h * rowStride + t) * headDim`. `rowStride` is the cache capacity, so a cache read back whole can be used
 * without repacking even when only its first rows are filled.
 */
export interface HeadMajorRows {
  data: Float32Array;
  nKvHeads: number;
  rowStride: number;
  headDim: number;
}

/** Throws a ShapeError unless `rows` holds `nRows` rows per head. */
export function checkHeadMajorRows(op: string, rows: HeadMajorRows, nRows: number): void {
  const { data, nKvHeads, rowStride, headDim } = rows;
  if (data.length < nKvHeads * rowStride * headDim) {
    throw new ShapeError(op, `data has ${data.length} floats, [${nKvHeads}, ${rowStride}, ${headDim}] needs ${nKvHeads * rowStride * headDim}`);
  }
  if (nRows > rowStride) throw new ShapeError(op, `${nRows} rows requested but the cache holds ${rowStride} per head`);
}
