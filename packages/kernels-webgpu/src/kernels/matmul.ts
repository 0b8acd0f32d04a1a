// matmul: out[m, n] = x[m, k] · w[n, k]ᵀ. GEMV for decode-sized m, tiled otherwise; w is bound in row
// ranges (output-column parts) and x/out in row parts, so a 1 GB lm-head weight works under a 128 MiB binding limit.
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { GEMV_COLUMNS, gemvKernel } from './gemv.wgsl.js';
import { MATMUL_TILE, matmulTiledKernel } from './matmul-tiled.wgsl.js';

/** Up to this many rows the GEMV kernel (one row per grid row) beats 64-row tiles. */
export const GEMV_MAX_ROWS = 4;

export function matmul(ctx: GpuContext, xIn: Tensor, wIn: Tensor): GpuTensor {
  // validate
  const x = ctx.own('matmul', 'x', xIn);
  const w = ctx.own('matmul', 'w', wIn);
  const { m, k, n } = validateOpArgs.matmul(x, w);
  const out = ctx.alloc('matmul', [m, n], 'f32', { zero: k === 0 });
  if (k === 0) return out; // empty sums: zeros
  const gemv = m <= GEMV_MAX_ROWS;
  // x and out share the m split; w alone is split over its n rows.
  for (const mp of splitRows('matmul', m, [k * 4, n * 4], ctx.limits)) {
    const [wx, wo] = mp.windows;
    for (const np of splitRows('matmul', n, [k * 4], ctx.limits)) {
      const [ww] = np.windows;
      const uniforms = [mp.rows, n, k, np.rows, np.row0, wx.shift, ww.shift, wo.shift];
      const storage = [
        { buffer: x.buffer, ...wx },
        { buffer: w.buffer, ...ww },
        { buffer: out.buffer, ...wo },
      ];
      // cache key + render happen in ctx.dispatch from the kernel and its spec; then dispatch.
      if (gemv) {
        const vec4 = k % 4 === 0 && wx.shift % 4 === 0 && ww.shift % 4 === 0;
        ctx.dispatch(gemvKernel, { vec4 }, uniforms, storage, [Math.ceil(np.rows / GEMV_COLUMNS), mp.rows, 1]);
      } else {
        ctx.dispatch(matmulTiledKernel, {}, uniforms, storage, [Math.ceil(np.rows / MATMUL_TILE), Math.ceil(mp.rows / MATMUL_TILE), 1]);
      }
    }
  }
  return out;
}
