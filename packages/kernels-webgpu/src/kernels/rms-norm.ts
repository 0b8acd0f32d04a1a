// rmsNorm: out[m, d] = x / rms(x) * w.
import { assertShape, type Tensor } from '@shadowkv/core';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { f32 } from '../uniform-values.js';
import { rmsNormKernel } from './rms-norm.wgsl.js';

export function rmsNorm(ctx: GpuContext, xIn: Tensor, wIn: Tensor, eps: number): GpuTensor {
  // validate
  const x = ctx.bindable('rmsNorm', 'x', ctx.own('rmsNorm', 'x', xIn, 'f32'));
  assertShape('rmsNorm', 'x', x, [-1, -1], 'f32');
  const [m, d] = x.shape;
  const w = ctx.own('rmsNorm', 'w', wIn, 'f32');
  assertShape('rmsNorm', 'w', w, [d], 'f32');
  const out = ctx.alloc('rmsNorm', [m, d], 'f32');
  if (d === 0) return out;
  // cache key + render (in ctx.dispatch) → dispatch: one workgroup per row
  ctx.dispatch(rmsNormKernel, {}, [m, d, f32(eps), 16], [x, w, out], ctx.linearGrid('rmsNorm', m));
  return out;
}
