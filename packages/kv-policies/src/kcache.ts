// The kcache cache policy factory (He & Wu 2024): all keys on the fast side, values offloaded, top-N fetched.
import type { KvCacheContext, KvCachePolicy } from '@shadowkv/core';
import { checkKcachePrompt, resolveKcacheParams, type KcacheParams } from './kcache-params.js';
import { KcacheState } from './kcache-state.js';
import { projectKcache } from './memory-projection.js';

/**
 * KCache: prefill is dense and keeps the keys; values move to a host ValueStore at the end of prefill. Each
 * decode step computes exact attention probabilities over all keys, keeps the top `topN` tokens per KV head
 * (or, with `mass`, the smallest set reaching that probability mass), fetches their values (only those not
 * fetched at the previous step) and attends over them. With topN >= the sequence length this is dense attention.
 */
export function kcache(params: KcacheParams = {}): KvCachePolicy {
  const p = resolveKcacheParams(params);
  // Every resolved parameter of the schema (KCACHE_PARAMS) except the one of topN/mass not in use.
  const shown = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, number | boolean>;
  return {
    name: 'kcache',
    params: shown,
    validate: (ctx: KvCacheContext, promptLen: number) => checkKcachePrompt(promptLen, ctx.maxSeqLen),
    create: (ctx: KvCacheContext) => new KcacheState(ctx, p),
    projectMemory: (ctx: KvCacheContext) => projectKcache(p, ctx),
  };
}
