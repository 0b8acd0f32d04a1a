// rmsNorm: out[m, d] = x / rms(x) * w.
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { f32 } from '../uniform-values.js';
import { rmsNormKernel } from './rms-norm.wgsl.js';

export function rmsNorm(ctx: GpuContext, xIn: Tensor, wIn: Tensor, eps: number): GpuTensor {
  // validate
  const x = ctx.own('rmsNorm', 'x', xIn);
  const w = ctx.own('rmsNorm', 'w', wIn);
  const { m, d } = validateOpArgs.rmsNorm(x, w);
  ctx.bindable('rmsNorm', 'x', x);
  const out = ctx.alloc('rmsNorm', [m, d], 'f32');
  if (d === 0) return out;
  // cache key + render (in ctx.dispatch) → dispatch: one workgroup per row
  ctx.dispatch(rmsNormKernel, {}, [m, d, f32(eps), 16], [x, w, out], ctx.linearGrid('rmsNorm', m));
  return out;
}
