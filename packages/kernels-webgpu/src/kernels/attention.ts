// attention: q [m, nHeads*headDim] over k, v [nKvHeads, >=kvLen, headDim] with GQA (query head h reads KV
// head floor(h / (nHeads/nKvHeads))). Decode-sized m splits the keys across workgroups and merges the
// splits in a second pass; larger m runs the tiled online-softmax kernel. k and v are bound per range of
// KV heads, so caches larger than one binding work.
import { ShapeError, validateOpArgs, type AttentionParams, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { f32, i32 } from '../uniform-values.js';
import { attentionCombineKernel } from './attention-combine.wgsl.js';
import { attentionSplitKernel, attentionSplitSharedBytes } from './attention-split.wgsl.js';
import { attentionTiledKernel, attentionTiles } from './attention-tiled.wgsl.js';

/** Up to this many query rows, attention splits over the keys (decode); above, it tiles over queries. */
export const DECODE_MAX_ROWS = 4;
/** Keys per split of the decode path (a compile-time constant; the split count is per call). */
export const ATTENTION_SPLIT = 256;

export function attention(ctx: GpuContext, qIn: Tensor, kIn: Tensor, vIn: Tensor, p: AttentionParams): GpuTensor {
  // validate
  const { nHeads, nKvHeads, headDim, kvLen, queryOffset } = p;
  const q = ctx.own('attention', 'q', qIn);
  const k = ctx.own('attention', 'k', kIn);
  const v = ctx.own('attention', 'v', vIn);
  const { m, capacity: cap, group } = validateOpArgs.attention(q, k, v, p);
  ctx.bindable('attention', 'q', q);
  const out = ctx.bindable('attention', 'out', ctx.alloc('attention', [m, nHeads * headDim], 'f32', { zero: m === 0 || kvLen === 0 || headDim === 0 }));
  if (m === 0 || kvLen === 0 || headDim === 0) return out; // no visible keys: zeros, as in the reference
  const causal = p.causal ? 1 : 0;
  const offset = p.causal ? queryOffset : 0;
  const headBytes = cap * headDim * 4;
  const usable = ctx.limits.maxBindingBytes - (ctx.limits.offsetAlignment - 4);
  if (headBytes > usable) {
    throw new ShapeError(
      'attention',
      `one KV head of k/v is ${headBytes} bytes (capacity ${cap} x headDim ${headDim} x 4), more than this adapter binds at once (maxStorageBufferBindingSize ${ctx.limits.maxBindingBytes}); use a cache capacity of at most ${Math.floor(usable / (headDim * 4))} tokens`,
    );
  }
  const kvParts = splitRows('attention', nKvHeads, [headBytes, headBytes], ctx.limits);
  // vec4 loads need head rows and every part's start on a 4-float boundary.
  const vec4 = headDim % 4 === 0 && kvParts.every((part) => part.windows[0].shift % 4 === 0);
  const dv = vec4 ? headDim / 4 : headDim;
  // cache key + render (in ctx.dispatch, specialised on headDim) → dispatch per part of KV heads
  if (m <= DECODE_MAX_ROWS) {
    const nSplits = Math.ceil(kvLen / ATTENTION_SPLIT);
    const partialBytes = m * nHeads * nSplits * (headDim + 2) * 4;
    if (partialBytes > ctx.limits.maxBindingBytes) {
      throw new ShapeError('attention', `the split partials (${partialBytes} bytes) are more than this adapter binds at once (maxStorageBufferBindingSize ${ctx.limits.maxBindingBytes})`);
    }
    const partials = ctx.scratch('attention', partialBytes);
    const heads = gqaHeads(group, headDim, ctx.device.limits.maxComputeWorkgroupStorageSize);
    for (const part of kvParts) {
      const [wk, wv] = part.windows;
      ctx.dispatch(
        attentionSplitKernel,
        { headDim, split: ATTENTION_SPLIT, vec4, heads },
        [nHeads, group, kvLen, causal, i32(offset), f32(p.scale), nSplits, cap, part.row0 * group, wk.shift, dv, 8, heads],
        [q, { buffer: k.buffer, ...wk }, { buffer: v.buffer, ...wv }, partials],
        [nSplits, (part.rows * group) / heads, m],
        // Each KV row of the visible keys once per workgroup of `heads` query heads, q and the partials.
        m * (part.rows * (group / heads) * Math.min(kvLen, cap) * headDim * 8 + part.rows * group * headDim * 4) + partialBytes,
      );
    }
    ctx.dispatch(attentionCombineKernel, { headDim }, [m * nHeads, nSplits], [partials, out], ctx.linearGrid('attention', m * nHeads));
    ctx.release(partials.buffer);
  } else {
    for (const part of kvParts) {
      const [wk, wv] = part.windows;
      ctx.dispatch(
        attentionTiledKernel,
        { headDim, vec4 },
        [m, nHeads, group, kvLen, causal, i32(offset), f32(p.scale), cap, part.row0 * group, wk.shift, dv, attentionTiles(headDim).bk],
        [q, { buffer: k.buffer, ...wk }, { buffer: v.buffer, ...wv }, out],
        [Math.ceil(m / attentionTiles(headDim).bq), part.rows * group, 1],
      );
    }
  }
  return out;
}

/**
 * Query heads per decode-attention workgroup: the largest divisor of the GQA group (at most 8) whose scores
 * and query rows fit the adapter's workgroup memory, so each KV row is loaded once per group, not per head.
 */
export function gqaHeads(group: number, headDim: number, maxWorkgroupBytes: number): number {
  for (let g = Math.min(group, 8); g > 1; g--) {
    if (group % g === 0 && attentionSplitSharedBytes(headDim, ATTENTION_SPLIT, g) <= maxWorkgroupBytes) return g;
  }
  return 1;
}
