// matmul: out[m, n] = x[m, k] · w[n, k]ᵀ, w in f32, f16 or bf16 (accumulated in f32). GEMV for decode-sized m,
// tiled otherwise; w is bound in row ranges (output-column parts) and x/out in row parts, so a 1 GB lm-head
// weight works under a 128 MiB binding limit.
import { assertShape, bytesPerElement, validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { elementwise } from './elementwise.js';
import { gemvKernel, type GemvSpec, type WeightType } from './gemv.wgsl.js';
import { MATMUL_TILE, matmulTiledKernel } from './matmul-tiled.wgsl.js';

/** Up to this many rows the GEMV kernel (one row per grid row) beats 64-row tiles. */
export const GEMV_MAX_ROWS = 4;

export function matmul(ctx: GpuContext, xIn: Tensor, wIn: Tensor): GpuTensor {
  // validate
  const x = ctx.own('matmul', 'x', xIn);
  const w = ctx.own('matmul', 'w', wIn);
  const { m, k, n } = validateOpArgs.matmul(x, w, ctx.weightDtypes);
  const out = ctx.alloc('matmul', [m, n], 'f32', { zero: k === 0 });
  if (k === 0) return out; // empty sums: zeros
  project(ctx, 'matmul', x, [w], null, out, m, k, n);
  return out;
}

/**
 * matmulAdd: out = residual + x · wᵀ. Decode-sized m: one GEMV dispatch that adds the residual as it stores
 * (the output projection and the residual add of a layer in one launch); larger m: matmul then add.
 */
export function matmulAdd(ctx: GpuContext, xIn: Tensor, wIn: Tensor, resIn: Tensor): GpuTensor {
  const x = ctx.own('matmulAdd', 'x', xIn);
  const w = ctx.own('matmulAdd', 'w', wIn);
  const res = ctx.own('matmulAdd', 'residual', resIn);
  const { m, k, n } = validateOpArgs.matmul(x, w, ctx.weightDtypes);
  assertShape('matmulAdd', 'residual', res, [m, n], 'f32');
  if (m > GEMV_MAX_ROWS || k === 0) return unfused(ctx, matmul(ctx, x, w), (o) => elementwise(ctx, 'add', res, o));
  const out = ctx.alloc('matmulAdd', [m, n], 'f32');
  project(ctx, 'matmulAdd', x, [w], res, out, m, k, n);
  return out;
}

/**
 * matmulSwiglu: out = silu(x · wGateᵀ) * (x · wUpᵀ). Decode-sized m: one GEMV dispatch reading both weights
 * for the same x (the MLP's gate and up projections and SwiGLU in one launch); larger m: the separate ops.
 */
export function matmulSwiglu(ctx: GpuContext, xIn: Tensor, gIn: Tensor, uIn: Tensor): GpuTensor {
  const x = ctx.own('matmulSwiglu', 'x', xIn);
  const wg = ctx.own('matmulSwiglu', 'wGate', gIn);
  const wu = ctx.own('matmulSwiglu', 'wUp', uIn);
  const { m, k, n } = validateOpArgs.matmul(x, wg, ctx.weightDtypes);
  assertShape('matmulSwiglu', 'wUp', wu, [n, k], wg.dtype);
  if (m > GEMV_MAX_ROWS || k === 0) {
    return unfused(ctx, matmul(ctx, x, wg), (gate) => unfused(ctx, matmul(ctx, x, wu), (up) => elementwise(ctx, 'swiglu', gate, up)));
  }
  const out = ctx.alloc('matmulSwiglu', [m, n], 'f32');
  project(ctx, 'matmulSwiglu', x, [wg, wu], null, out, m, k, n);
  return out;
}

/** Runs `next` on an intermediate tensor, then returns the intermediate's buffer to the arena. */
function unfused(ctx: GpuContext, t: GpuTensor, next: (t: GpuTensor) => GpuTensor): GpuTensor {
  const out = next(t);
  t.disposed = true;
  ctx.release(t.buffer);
  return out;
}

/**
 * The dispatch loop shared by matmul and the fused GEMVs: x and out (and the residual) share the m split,
 * the weights (one, or gate and up of one shape) are split over their n rows.
 */
function project(ctx: GpuContext, op: string, x: GpuTensor, ws: GpuTensor[], res: GpuTensor | null, out: GpuTensor, m: number, k: number, n: number): void {
  const wt = ws[0].dtype as WeightType;
  const wBytes = bytesPerElement(ws[0].dtype);
  const epilogue: GemvSpec['epilogue'] = res ? 'add' : ws.length === 2 ? 'swiglu' : 'none';
  const gemv = m <= GEMV_MAX_ROWS;
  for (const mp of splitRows(op, m, [k * 4, n * 4], ctx.limits)) {
    const [wx, wo] = mp.windows;
    for (const np of splitRows(op, n, [k * wBytes], ctx.limits)) {
      const [ww] = np.windows;
      const wShift = ww.byteShift / wBytes;
      const uniforms = [mp.rows, n, k, np.rows, np.row0, wx.shift, wShift, wo.shift];
      const storage = [
        { buffer: x.buffer, ...wx },
        ...ws.map((w) => ({ buffer: w.buffer, ...ww })),
        ...(res ? [{ buffer: res.buffer, ...wo }] : []),
        { buffer: out.buffer, ...wo },
      ];
      // Bytes the kernel streams: this part's weights once per x row (GEMV) or per 64-row tile, plus x.
      const wPartBytes = ws.length * np.rows * k * wBytes;
      if (gemv) {
        const width = wt === 'f32' ? 4 : 8; // elements per 16-byte load
        const vec = k % width === 0 && wx.shift % 4 === 0 && wShift % width === 0;
        const rows = gemvRows(np.rows, ctx.limits.maxWorkgroupsPerDimension);
        const spec = { w: wt, vec, rows, subgroups: ctx.subgroups, epilogue };
        ctx.dispatch(gemvKernel, spec, uniforms, storage, [Math.ceil(np.rows / rows), mp.rows, 1], mp.rows * (wPartBytes + k * 4));
      } else {
        const tilesM = Math.ceil(mp.rows / MATMUL_TILE);
        ctx.dispatch(matmulTiledKernel, { w: wt }, uniforms, storage, [Math.ceil(np.rows / MATMUL_TILE), tilesM, 1], tilesM * wPartBytes + mp.rows * k * 4);
      }
    }
  }
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
