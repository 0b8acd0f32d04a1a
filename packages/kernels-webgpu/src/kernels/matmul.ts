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
import { rmsNorm } from './rms-norm.js';
import { f32 } from '../uniform-values.js';

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

/** The input RMSNorm a GEMV applies as it loads x (see GemvSpec.norm): the norm weight [k] and eps. */
type FusedNorm = { readonly g: GpuTensor; readonly eps: number };

/**
 * rmsNormMatmuls: outs[i] = rmsNorm(x, norm, eps) · ws[i]ᵀ. Decode-sized m: the norm is applied inside the GEMV
 * (no launch of its own), and two or three weights (q, k, v) share one launch when they and x fit one binding
 * each and the adapter binds the 8 storage buffers that takes; otherwise one fused launch per weight. Larger m:
 * rmsNorm, then the matmuls.
 */
export function rmsNormMatmuls(ctx: GpuContext, xIn: Tensor, normIn: Tensor, eps: number, wsIn: readonly Tensor[]): GpuTensor[] {
  const x = ctx.own('rmsNormMatmuls', 'x', xIn);
  const g = ctx.own('rmsNormMatmuls', 'norm', normIn);
  const ws = wsIn.map((w, i) => ctx.own('rmsNormMatmuls', `ws[${i}]`, w));
  const { m, k, ns } = validateOpArgs.rmsNormMatmuls(x, g, ws, ctx.weightDtypes);
  if (m > GEMV_MAX_ROWS || k === 0) {
    const h = rmsNorm(ctx, x, g, eps);
    const outs = ws.map((w) => matmul(ctx, h, w));
    h.disposed = true;
    ctx.release(h.buffer);
    return outs;
  }
  const outs = ns.map((n) => ctx.alloc('rmsNormMatmuls', [m, n], 'f32'));
  const wt = ws[0].dtype as WeightType;
  const width = wt === 'f32' ? 4 : 8; // elements per 16-byte load
  const oneLaunch =
    ws.length >= 2 &&
    ws.length <= 3 &&
    ctx.device.limits.maxStorageBuffersPerShaderStage >= 2 + 2 * ws.length &&
    [x, g, ...ws, ...outs].every((t) => t.byteLength <= ctx.limits.maxBindingBytes);
  if (!oneLaunch) {
    ws.forEach((w, i) => project(ctx, 'rmsNormMatmuls', x, [w], null, outs[i], m, k, ns[i], { g, eps }));
    return outs;
  }
  const total = ns.reduce((a, b) => a + b, 0);
  const rows = gemvRows(total, ctx.limits.maxWorkgroupsPerDimension);
  const spec: GemvSpec = { w: wt, vec: k % width === 0, rows, subgroups: ctx.subgroups, norm: true, outputs: ws.length };
  const uniforms = [m, ns[0], k, ns[0], 0, 0, 0, 0, f32(eps), ns[1], ns[2] ?? 0];
  const groups = ns.reduce((a, n) => a + Math.ceil(n / rows), 0);
  const wBytes = ws.reduce((a, w) => a + w.byteLength, 0);
  ctx.dispatch(gemvKernel, spec, uniforms, [x, g, ...ws, ...outs], [groups, m, 1], m * (wBytes + k * 4) + k * 4);
  return outs;
}

/**
 * rmsNormMatmulSwiglu: out = matmulSwiglu(rmsNorm(x, norm, eps), wGate, wUp). Decode-sized m: one GEMV launch
 * (norm, gate, up and SwiGLU); larger m: rmsNorm, then matmulSwiglu.
 */
export function rmsNormMatmulSwiglu(ctx: GpuContext, xIn: Tensor, normIn: Tensor, eps: number, gIn: Tensor, uIn: Tensor): GpuTensor {
  const x = ctx.own('rmsNormMatmulSwiglu', 'x', xIn);
  const g = ctx.own('rmsNormMatmulSwiglu', 'norm', normIn);
  const wg = ctx.own('rmsNormMatmulSwiglu', 'wGate', gIn);
  const wu = ctx.own('rmsNormMatmulSwiglu', 'wUp', uIn);
  validateOpArgs.rmsNorm(x, g);
  const { m, k, n } = validateOpArgs.matmul(x, wg, ctx.weightDtypes);
  assertShape('rmsNormMatmulSwiglu', 'wUp', wu, [n, k], wg.dtype);
  if (m > GEMV_MAX_ROWS || k === 0) return unfused(ctx, rmsNorm(ctx, x, g, eps), (h) => matmulSwiglu(ctx, h, wg, wu));
  ctx.bindable('rmsNormMatmulSwiglu', 'norm', g);
  const out = ctx.alloc('rmsNormMatmulSwiglu', [m, n], 'f32');
  project(ctx, 'rmsNormMatmulSwiglu', x, [wg, wu], null, out, m, k, n, { g, eps });
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
function project(
  ctx: GpuContext,
  op: string,
  x: GpuTensor,
  ws: GpuTensor[],
  res: GpuTensor | null,
  out: GpuTensor,
  m: number,
  k: number,
  n: number,
  norm: FusedNorm | null = null,
): void {
  const wt = ws[0].dtype as WeightType;
  const wBytes = bytesPerElement(ws[0].dtype);
  const epilogue: GemvSpec['epilogue'] = res ? 'add' : ws.length === 2 ? 'swiglu' : 'none';
  const gemv = m <= GEMV_MAX_ROWS;
  for (const mp of splitRows(op, m, [k * 4, n * 4], ctx.limits)) {
    const [wx, wo] = mp.windows;
    for (const np of splitRows(op, n, [k * wBytes], ctx.limits)) {
      const [ww] = np.windows;
      const wShift = ww.byteShift / wBytes;
      const uniforms = [mp.rows, n, k, np.rows, np.row0, wx.shift, wShift, wo.shift, ...(norm ? [f32(norm.eps)] : [])];
      const storage = [
        { buffer: x.buffer, ...wx },
        ...(norm ? [norm.g] : []),
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
        const spec: GemvSpec = { w: wt, vec, rows, subgroups: ctx.subgroups, epilogue, ...(norm ? { norm: true } : {}) };
        ctx.dispatch(gemvKernel, spec, uniforms, storage, [Math.ceil(np.rows / rows), mp.rows, 1], mp.rows * (wPartBytes + k * 4));
      } else {
        if (norm) throw new Error(`${op}: internal: the fused norm is a GEMV epilogue (m <= ${GEMV_MAX_ROWS})`);
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
