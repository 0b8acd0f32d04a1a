// Fast-side memory of a sequence known before its state exists (upper bounds), per policy: what admission by a
// KV memory budget (continuous batching) needs. Each bound follows the allocations of the policy's state.
import { InvalidOptionError, type KvCacheContext, type KvCachePolicy, type KvMemoryProjection } from '@shadowkv/core';
import { denseKvBytes } from './dense-kv-buffer.js';
import type { ResolvedKcacheParams } from './kcache-params.js';
import { completeShadowKvParams, shadowKvLayout, type ShadowKvSpec } from './shadowkv-params.js';

const F32 = 4;

/** Dense: K and V of every layer for maxSeqLen rows, allocated at creation. */
export function projectDense(ctx: KvCacheContext): KvMemoryProjection {
  const bytes = denseKvBytes(ctx.model, ctx.maxSeqLen);
  return { prefillFastBytes: bytes, decodeFastBytes: bytes, slowBytes: 0 };
}

/**
 * Host bytes of `tokens` offloaded values over all layers, as ValueStore.bytes counts them: f32 rows, or (int8)
 * one byte per value plus a float scale per full chunk and head, with the partial last chunk in f32.
 */
export function offloadedValueBytes(model: KvCacheContext['model'], tokens: number, chunkSize: number, int8: boolean): number {
  const row = model.nKvHeads * model.headDim * F32;
  if (!int8) return model.nLayers * tokens * row;
  const full = Math.floor(tokens / chunkSize);
  return model.nLayers * (full * model.nKvHeads * (chunkSize * model.headDim + F32) + (tokens - full * chunkSize) * row);
}

/**
 * ShadowKV. Prefill is layer-major (the engine's, LayerMajorPrefill): one layer's dense K and V at maxSeqLen (its
 * pre-RoPE keys go to the host, where the SVD reads them) beside the shadow layers built so far; converting the last
 * layer holds that buffer, every shadow layer and the static rows staged for upload. A token-major prefill
 * (tokenMajorPrefillFastBytes) holds every layer's buffer with pre-RoPE keys (1.5x dense) until endPrefill converts
 * them one by one. Decode, per layer: the
 * low-rank factors (A with at most maxSeqLen rows once generated tokens fold in, B), the landmarks, and the
 * exact rows (budget + static local/outlier rows + every generated token) of K and V plus the generated tokens'
 * pre-RoPE keys. A prompt too short for a sparse state stays dense (with pre-RoPE keys).
 */
export function projectShadowKv(spec: ShadowKvSpec, ctx: KvCacheContext, promptLen: number): KvMemoryProjection {
  const m = ctx.model;
  const prefill = (denseKvBytes(m, ctx.maxSeqLen) * 3) / 2;
  const { params: p, derivation } = completeShadowKvParams(spec, m, promptLen);
  // A prompt that stays dense converts no layer: every layer's buffer is kept, either way.
  if (derivation.dense) return { prefillFastBytes: prefill, decodeFastBytes: prefill, slowBytes: 0 };
  const layout = shadowKvLayout(p, m, promptLen, ctx.maxSeqLen, derivation.derived);
  const generated = ctx.maxSeqLen - promptLen;
  const nStatic = layout.nLocal + p.outliers * p.chunkSize;
  const row = m.nKvHeads * m.headDim * F32;
  const perLayer =
    (ctx.maxSeqLen * p.rank + m.nKvHeads * p.rank * m.headDim) * F32 + layout.nLandmarks * m.nKvHeads * (m.headDim + (p.spread > 0 ? p.spreadGroups || m.headDim : 0)) * F32 + 2 * (p.budget + nStatic + generated) * row + generated * row;
  const decode = m.nLayers * perLayer;
  // Layer-major: layer l's K and V (allocated at maxSeqLen) beside shadow layers 0..l-1 while it is attended, and
  // beside shadow layers 0..l while layer l is converted (the static rows staged for upload): the most is at the
  // last layer. endPrefill then only sets ranks (rankAllocation 'energy': A and B, within the decode bound).
  const layerMajor = denseKvBytes(m, ctx.maxSeqLen) / m.nLayers + decode + nStatic * row;
  return {
    prefillFastBytes: layerMajor,
    decodeFastBytes: decode,
    transitionFastBytes: layerMajor,
    // Token-major: endPrefill builds layer l's shadow state before it frees layer l's dense buffer: the most is at
    // the first layer (every dense buffer and one shadow layer) or at the last (one dense buffer and every shadow
    // layer), plus the static rows staged for upload while a layer is built.
    tokenMajorPrefillFastBytes: Math.max(prefill + perLayer + nStatic * row, layerMajor),
    // Slow tier: the prompt's values, and (bound) every generated token's once folded in.
    slowBytes: offloadedValueBytes(m, ctx.maxSeqLen, p.chunkSize, Boolean(p.quantizeValues)),
  };
}

/**
 * KCache: decode keeps each layer's prefill key tensor and a fetched-value buffer of topN slots (with `mass`: it may
 * grow to maxSeqLen). Prefill is layer-major (the engine's): layer l's K and V at maxSeqLen beside the decode layers
 * before it; converting it keeps its keys, adds its slots and frees its values. A token-major prefill holds the
 * whole dense buffer (K and V of every layer) until endPrefill.
 */
export function projectKcache(p: ResolvedKcacheParams, ctx: KvCacheContext): KvMemoryProjection {
  const m = ctx.model;
  const slots = p.topN !== undefined ? Math.min(p.topN, ctx.maxSeqLen) : ctx.maxSeqLen;
  const row = m.nKvHeads * m.headDim * F32;
  const prefill = denseKvBytes(m, ctx.maxSeqLen);
  const decode = m.nLayers * (ctx.maxSeqLen + slots) * row;
  // Layer-major: at the last layer's conversion every layer's keys and slots plus the last layer's values.
  const layerMajor = decode + ctx.maxSeqLen * row;
  return {
    prefillFastBytes: layerMajor,
    decodeFastBytes: decode,
    transitionFastBytes: layerMajor,
    // Token-major: endPrefill hands each layer's key cache over to its decode state (no copy) and frees its
    // values: the most is the dense buffer plus the first layer's fetched-value slots.
    tokenMajorPrefillFastBytes: Math.max(prefill + slots * row, decode),
    slowBytes: offloadedValueBytes(m, ctx.maxSeqLen, 1, Boolean(p.quantizeValues)),
  };
}

/**
 * The projection of any policy that offers one (`policy.projectMemory`); a typed error for one that does not,
 * since admitting a request of unknown size could run the process out of memory.
 */
export function projectKvMemory(policy: KvCachePolicy, ctx: KvCacheContext, promptLen: number): KvMemoryProjection {
  if (!policy.projectMemory) {
    throw new InvalidOptionError('cache', `policy ${policy.name} does not project its memory (projectMemory), so it cannot be admitted under a KV memory budget; use dense, shadowkv or kcache`);
  }
  return policy.projectMemory(ctx, promptLen);
}
