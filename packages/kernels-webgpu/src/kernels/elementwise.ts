// add and swiglu: same-shape elementwise ops, split into flat parts when a tensor exceeds one binding.
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { elementwiseKernel, type ElementwiseSpec } from './elementwise.wgsl.js';

export function elementwise(ctx: GpuContext, op: ElementwiseSpec['op'], aIn: Tensor, bIn: Tensor): GpuTensor {
  // validate
  const a = ctx.own(op, 'a', aIn);
  const b = ctx.own(op, 'b', bIn);
  validateOpArgs.elementwise(op, a, b);
  const out = ctx.alloc(op, a.shape, 'f32');
  const n = a.byteLength / 4;
  // cache key + render (inside ctx.dispatch, keyed by the spec) → dispatch, one per bindable part
  const spec: ElementwiseSpec = { op };
  for (const part of splitRows(op, n, [4, 4, 4], ctx.limits)) {
    const [wa, wb, wo] = part.windows;
    ctx.dispatch(
      elementwiseKernel,
      spec,
      [part.rows, wa.shift],
      [
        { buffer: a.buffer, ...wa },
        { buffer: b.buffer, ...wb },
        { buffer: out.buffer, ...wo },
      ],
      ctx.linearGrid(op, Math.ceil(part.rows / LINEAR_WORKGROUP)),
    );
  }
  return out;
}
