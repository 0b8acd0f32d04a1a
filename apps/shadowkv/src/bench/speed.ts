// Speed and memory benchmark: prefill N tokens, decode M, per-step time split and KV memory, per policy and backend.
import type { KvCachePolicy } from '@shadowkv/core';
import type { Engine } from '../engine.js';
import { seededRandom } from '../sampler.js';

export interface SpeedResult {
  backend: string;
  policy: { name: string; params: Readonly<Record<string, number | string | boolean>> };
  context: number;
  newTokens: number;
  prefillSeconds: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Mean milliseconds per decode step, split into parts (rest = MLP, projections, sampling, read-back). */
  stepMs: { total: number; selection: number; keyRebuild: number; valueFetch: number; attention: number; rest: number };
  cacheHitRate: number | null;
  bytesMovedPerStep: number;
  memory: { fastBytes: number; slowBytes: number; denseBytes: number };
}

/** A deterministic prompt of `n` ids drawn from the vocabulary (BOS first when the model has one). */
export function syntheticPrompt(n: number, vocabSize: number, bos: number | null, seed = 1): number[] {
  const rnd = seededRandom(seed);
  const ids = Array.from({ length: n }, () => 2 + Math.floor(rnd() * (vocabSize - 2)));
  if (bos !== null && n > 0) ids[0] = bos;
  return ids;
}

export async function runSpeed(
  engine: Engine,
  policy: KvCachePolicy,
  context: number,
  newTokens: number,
  onPrefillProgress?: (done: number, total: number) => void,
): Promise<SpeedResult> {
  const c = engine.model.config;
  const ids = syntheticPrompt(context, c.vocabSize, c.bosTokenId);
  const r = await engine.generateText({ inputIds: ids }, { maxNewTokens: newTokens, cache: policy, ignoreEos: true, onPrefillProgress });
  const steps = Math.max(1, r.tokens.length - 1); // the first token comes from the prefill logits
  const s = r.steps;
  const per = (x: number) => x / Math.max(1, s.steps || steps);
  const total = r.decodeMs / Math.max(1, r.tokens.length);
  const selection = per(s.selectMs);
  const keyRebuild = per(s.rebuildMs);
  const valueFetch = per(s.fetchMs);
  const attention = per(s.attentionMs);
  return {
    backend: r.backend,
    policy: r.policy,
    context,
    newTokens: r.tokens.length,
    prefillSeconds: r.prefillMs / 1000,
    prefillTokensPerSecond: r.prefillTokensPerSecond,
    decodeTokensPerSecond: r.decodeTokensPerSecond,
    stepMs: { total, selection, keyRebuild, valueFetch, attention, rest: Math.max(0, total - selection - keyRebuild - valueFetch - attention) },
    cacheHitRate: s.hits + s.misses > 0 ? s.hits / (s.hits + s.misses) : null,
    bytesMovedPerStep: per(s.bytesMoved),
    memory: r.memory,
  };
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2);

/** Markdown table; ratios are against the dense row of the same backend and context when present. */
export function formatSpeedTable(rows: SpeedResult[]): string {
  const out = [
    '| backend | policy | context | prefill tok/s | decode tok/s | decode vs dense | step ms (sel/rebuild/fetch/attn/rest) | hit rate | fast MiB | slow MiB | dense MiB | dense/fast |',
    '|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const base = rows.find((d) => d.policy.name === 'dense' && d.backend === r.backend && d.context === r.context);
    const m = r.stepMs;
    const params = Object.entries(r.policy.params).map(([k, v]) => `${k}=${v}`).join(' ');
    out.push(
      `| ${r.backend} | ${r.policy.name}${params ? ` (${params})` : ''} | ${r.context} | ${r.prefillTokensPerSecond.toFixed(1)} | ${r.decodeTokensPerSecond.toFixed(2)} | ${base ? `${(r.decodeTokensPerSecond / base.decodeTokensPerSecond).toFixed(2)}x` : '-'} | ${m.total.toFixed(1)} (${m.selection.toFixed(1)}/${m.keyRebuild.toFixed(1)}/${m.valueFetch.toFixed(1)}/${m.attention.toFixed(1)}/${m.rest.toFixed(1)}) | ${r.cacheHitRate === null ? '-' : `${(100 * r.cacheHitRate).toFixed(0)}%`} | ${mib(r.memory.fastBytes)} | ${mib(r.memory.slowBytes)} | ${mib(r.memory.denseBytes)} | ${(r.memory.denseBytes / r.memory.fastBytes).toFixed(2)} |`,
    );
  }
  return out.join('\n');
}
