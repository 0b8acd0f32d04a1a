// The dispatch half shared by gatherChunks and scatterChunks: both sides are bound in ranges of token rows
// (a decode value buffer of 8 heads x 128K tokens x 128 dims is 512 MiB), one dispatch per pair of ranges.
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { chunkCopyKernel, type ChunkCopySpec } from './chunk-copy.wgsl.js';

/** Sizes of a chunk copy: packed [nKv, nSel*chunkSize, headDim], chunked [nKv, rows, headDim], idx [nKv, nSel]. */
export interface ChunkCopySizes {
  nKv: number;
  rows: number;
  headDim: number;
  nSel: number;
  chunkSize: number;
}

/** Copies chunk idx[g, s] of `chunked` to slot s of `packed` (gatherChunks) or back (scatterChunks). */
export function copyChunks(ctx: GpuContext, op: ChunkCopySpec['op'], packed: GpuTensor, chunked: GpuTensor, idx: GpuTensor, sizes: ChunkCopySizes): void {
  const { nKv, rows, headDim: d, nSel, chunkSize } = sizes;
  // cache key + render (in ctx.dispatch) → dispatch per (packed part, chunked part) of token rows
  const chunkedParts = splitRows(op, nKv * rows, [d * 4], ctx.limits);
  for (const pp of splitRows(op, nKv * nSel * chunkSize, [d * 4], ctx.limits)) {
    const [wp] = pp.windows;
    const total = pp.rows * d;
    const packedBinding = { buffer: packed.buffer, ...wp };
    for (const cp of chunkedParts) {
      const [wc] = cp.windows;
      const chunkedBinding = { buffer: chunked.buffer, ...wc };
      ctx.dispatch(
        chunkCopyKernel,
        { op },
        [total, rows, d, nSel, chunkSize, pp.row0, wp.shift, cp.row0, cp.rows, wc.shift],
        op === 'gatherChunks' ? [chunkedBinding, idx, packedBinding] : [packedBinding, idx, chunkedBinding],
        ctx.linearGrid(op, Math.ceil(total / LINEAR_WORKGROUP)),
      );
    }
  }
}
