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

/** ropeQk: [rope(q, nHeads), rope(k, nKvHeads)] at the same positions in one launch. */
export function ropeQk(ctx: GpuContext, tableOf: RopeTableOf, qIn: Tensor, kIn: Tensor, positionsIn: Tensor, nHeads: number, nKvHeads: number, spec: RopeSpec): [GpuTensor, GpuTensor] {
  // validate
  const table = tableOf('ropeQk', spec);
  const q = ctx.own('ropeQk', 'q', qIn);
  const k = ctx.own('ropeQk', 'k', kIn);
  const positions = ctx.own('ropeQk', 'positions', positionsIn);
  const { m, headDim: d } = validateOpArgs.rope(q, positions, nHeads, spec);
  validateOpArgs.rope(k, positions, nKvHeads, spec);
  ctx.bindable('ropeQk', 'q', q);
  ctx.bindable('ropeQk', 'k', k);
  checkPositions('ropeQk', positions, 0);
  const outQ = ctx.alloc('ropeQk', q.shape, 'f32');
  const outK = ctx.alloc('ropeQk', k.shape, 'f32');
  const total = (m * (nHeads + nKvHeads) * d) / 2;
  if (total === 0) return [outQ, outK];
  ctx.dispatch(
    ropeKernel,
    { headDim: d, qk: true },
    [total, nHeads, f32(spec.attentionScaling), nKvHeads],
    [q, k, positions, table, outQ, outK],
    ctx.linearGrid('ropeQk', Math.ceil(total / LINEAR_WORKGROUP)),
  );
  return [outQ, outK];
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
