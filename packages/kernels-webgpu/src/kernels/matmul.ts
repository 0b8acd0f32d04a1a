// matmul: out[m, n] = x[m, k] · w[n, k]ᵀ, w in f32, f16 or bf16 (accumulated in f32). GEMV for decode-sized m,
// tiled otherwise; w is bound in row ranges (output-column parts) and x/out in row parts, so a 1 GB lm-head
// weight works under a 128 MiB binding limit.
import { bytesPerElement, validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { gemvKernel, type WeightType } from './gemv.wgsl.js';
import { MATMUL_TILE, matmulTiledKernel } from './matmul-tiled.wgsl.js';

/** Up to this many rows the GEMV kernel (one row per grid row) beats 64-row tiles. */
export const GEMV_MAX_ROWS = 4;

export function matmul(ctx: GpuContext, xIn: Tensor, wIn: Tensor): GpuTensor {
  // validate
  const x = ctx.own('matmul', 'x', xIn);
  const w = ctx.own('matmul', 'w', wIn);
  const { m, k, n } = validateOpArgs.matmul(x, w, ctx.weightDtypes);
  const wt = w.dtype as WeightType;
  const wBytes = bytesPerElement(w.dtype);
  const out = ctx.alloc('matmul', [m, n], 'f32', { zero: k === 0 });
  if (k === 0) return out; // empty sums: zeros
  const gemv = m <= GEMV_MAX_ROWS;
  // x and out share the m split; w alone is split over its n rows.
  for (const mp of splitRows('matmul', m, [k * 4, n * 4], ctx.limits)) {
    const [wx, wo] = mp.windows;
    for (const np of splitRows('matmul', n, [k * wBytes], ctx.limits)) {
      const [ww] = np.windows;
      const wShift = ww.byteShift / wBytes;
      const uniforms = [mp.rows, n, k, np.rows, np.row0, wx.shift, wShift, wo.shift];
      const storage = [
        { buffer: x.buffer, ...wx },
        { buffer: w.buffer, ...ww },
        { buffer: out.buffer, ...wo },
      ];
      // cache key + render happen in ctx.dispatch from the kernel and its spec; then dispatch.
      // Bytes the kernel streams: this part's weights once per x row (GEMV) or per 64-row tile, plus x.
      const wPartBytes = np.rows * k * wBytes;
      if (gemv) {
        const width = wt === 'f32' ? 4 : 8; // elements per 16-byte load
        const vec = k % width === 0 && wx.shift % 4 === 0 && wShift % width === 0;
        const rows = gemvRows(np.rows, ctx.limits.maxWorkgroupsPerDimension);
        ctx.dispatch(gemvKernel, { w: wt, vec, rows, subgroups: ctx.subgroups }, uniforms, storage, [Math.ceil(np.rows / rows), mp.rows, 1], mp.rows * (wPartBytes + k * 4));
      } else {
        const tilesM = Math.ceil(mp.rows / MATMUL_TILE);
        ctx.dispatch(matmulTiledKernel, { w: wt }, uniforms, storage, [Math.ceil(np.rows / MATMUL_TILE), tilesM, 1], tilesM * wPartBytes + mp.rows * k * 4);
      }
    }
  }
  return out;
}

/**
 * Output rows per GEMV workgroup: 4 (x read once for four rows) unless that leaves fewer than 256 workgroups
 * for the GPU's cores (narrow projections, e.g. k/v with few KV heads), then 2 or 1; more when one grid
 * dimension would overflow (a wide lm head).
 */
export function gemvRows(n: number, maxWorkgroups: number): number {
  let rows = 4;
  while (rows > 1 && Math.ceil(n / rows) < 256) rows /= 2;
  while (rows < 64 && Math.ceil(n / rows) > maxWorkgroups) rows *= 2;
  return rows;
}
