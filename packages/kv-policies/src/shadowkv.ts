// The shadowkv cache policy factory (Sun et al. 2024): low-rank pre-RoPE keys, offloaded values, sparse decode.
import type { KvCacheContext, KvCachePolicy } from '@shadowkv/core';
import { ShadowKvState } from './shadowkv-state.js';
import { checkPromptFits } from './option-checks.js';
import { projectShadowKv } from './memory-projection.js';
import { completeShadowKvParams, resolveShadowKvParams, SHADOWKV_PARAMS, shadowKvLayout, type ShadowKvParams } from './shadowkv-params.js';

/**
 * ShadowKV: prefill is dense; at the end of prefill each layer keeps a rank-`rank` SVD of its pre-RoPE keys,
 * chunk landmarks, `outliers` exact chunks and an exact local window on the fast side and moves the values to a
 * host ValueStore. Each decode step selects budget/chunkSize chunks per KV head by landmark score, rebuilds
 * their keys, fetches their values (only those missed since the previous step) and attends over
 * selected + local + outliers + generated tokens. Bad parameters throw InvalidOptionError at creation
 * (`validate` adds the checks that depend on the prompt length).
 */
export function shadowkv(params: ShadowKvParams = {}): KvCachePolicy {
  const p = resolveShadowKvParams(params);
  // rank, budget and outliers not given are derived per prompt (deriveShadowKvParams); reported as 'auto' here,
  // and with their values by the state (chosenParams) once the prompt is in.
  const reported: Record<string, number | string | boolean> = {};
  for (const { name } of SHADOWKV_PARAMS) reported[name] = (p as Record<string, number | string | boolean | undefined>)[name] ?? 'auto';
  return {
    name: 'shadowkv',
    params: reported,
    validate: (ctx: KvCacheContext, promptLen: number) => {
      const { params: full, derivation } = completeShadowKvParams(p, ctx.model, promptLen);
      if (derivation.dense) checkPromptFits('shadowkv', promptLen, ctx.maxSeqLen);
      else shadowKvLayout(full, ctx.model, promptLen, ctx.maxSeqLen, derivation.derived);
    },
    create: (ctx: KvCacheContext) => new ShadowKvState(ctx, p),
    projectMemory: (ctx: KvCacheContext, promptLen: number) => projectShadowKv(p, ctx, promptLen),
  };
}
