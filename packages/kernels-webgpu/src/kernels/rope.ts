// rope: rotary embedding of x [m, nHeads*headDim] at positions (i32 [m]), rotate-half convention.
import { ShapeError, validateOpArgs, type RopeSpec, type Tensor } from '@shadowkv/core';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { MAX_ROPE_POSITION } from '../rope-table.js';
import { f32 } from '../uniform-values.js';
import { ropeKernel } from './rope.wgsl.js';

/** The frequency table of a RopeSpec on the device (see rope-table.ts). */
export type RopeTableOf = (op: string, rope: RopeSpec) => GpuTensor;

export function rope(ctx: GpuContext, tableOf: RopeTableOf, xIn: Tensor, positionsIn: Tensor, nHeads: number, spec: RopeSpec): GpuTensor {
  // validate
  const table = tableOf('rope', spec);
  const x = ctx.own('rope', 'x', xIn);
  const positions = ctx.own('rope', 'positions', positionsIn);
  const { m, headDim: d } = validateOpArgs.rope(x, positions, nHeads, spec);
  ctx.bindable('rope', 'x', x);
  checkPositions('rope', positions, 0);
  const out = ctx.alloc('rope', x.shape, 'f32');
  const total = (m * nHeads * d) / 2;
  // cache key + render (in ctx.dispatch, specialised on headDim) → dispatch
  ctx.dispatch(ropeKernel, { headDim: d }, [total, nHeads, f32(spec.attentionScaling)], [x, positions, table, out], ctx.linearGrid('rope', Math.ceil(total / LINEAR_WORKGROUP)));
  return out;
}

/** Rejects positions (+ offset) the angle reduction does not cover, when their values are known on the host. */
export function checkPositions(op: string, t: GpuTensor, offset: number): void {
  if (!t.host) return;
  for (const p of t.host) {
    if (Math.abs(p + offset) > MAX_ROPE_POSITION) {
      throw new ShapeError(op, `position ${p + offset} is beyond ±${MAX_ROPE_POSITION}, the range this backend's RoPE supports`);
    }
  }
}
