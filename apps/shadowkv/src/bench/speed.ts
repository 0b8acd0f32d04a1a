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
  /** Prompt tokens per second including this policy's state build (SVD, landmarks, offload) after prefill. */
  prefillTokensPerSecond: number;
  /** Seconds spent building the policy's state after the dense prefill. */
  buildSeconds: number;
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

/**
 * Prefills one synthetic prompt of `context` tokens once for all policies (prefill is dense under every
 * policy), then decodes `newTokens` greedily per policy and measures each decode on its own.
 */
export async function runSpeed(
  engine: Engine,
  policies: KvCachePolicy[],
  context: number,
  newTokens: number,
  onPrefillProgress?: (done: number, total: number) => void,
): Promise<SpeedResult[]> {
  const c = engine.model.config;
  const ids = syntheticPrompt(context, c.vocabSize, c.bosTokenId);
  const t0 = performance.now();
  const { states, logits, buildMs } = await engine.prefillShared(ids, policies, context + newTokens, 512, onPrefillProgress);
  const prefillMs = performance.now() - t0 - buildMs.reduce((a, b) => a + b, 0);
  const out: SpeedResult[] = [];
  try {
    for (let p = 0; p < policies.length; p++) {
      const state = states[p];
      const t1 = performance.now();
      const tokens = await engine.greedy(state, logits, newTokens);
      const decodeMs = performance.now() - t1;
      const s = state.stats();
      const stepsRun = Math.max(1, s.steps || tokens.length - 1); // the first token comes from the prefill logits
      const per = (x: number) => x / stepsRun;
      const total = decodeMs / Math.max(1, tokens.length - 1);
      const selection = per(s.selectMs);
      const keyRebuild = per(s.rebuildMs);
      const valueFetch = per(s.fetchMs);
      const attention = per(s.attentionMs);
      const prefillSeconds = (prefillMs + buildMs[p]) / 1000;
      out.push({
        backend: engine.backend.name,
        policy: { name: policies[p].name, params: policies[p].params },
        context,
        newTokens: tokens.length,
        prefillSeconds,
        prefillTokensPerSecond: context / prefillSeconds,
        buildSeconds: buildMs[p] / 1000,
        decodeTokensPerSecond: 1000 / total,
        stepMs: { total, selection, keyRebuild, valueFetch, attention, rest: Math.max(0, total - selection - keyRebuild - valueFetch - attention) },
        cacheHitRate: s.hits + s.misses > 0 ? s.hits / (s.hits + s.misses) : null,
        bytesMovedPerStep: per(s.bytesMoved),
        memory: state.memory(),
      });
    }
  } finally {
    for (const s of states) s.dispose();
  }
  return out;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2);

/** Markdown table; ratios are against the dense row of the same backend and context when present. */
export function formatSpeedTable(rows: SpeedResult[]): string {
  const out = [
    '| backend | policy | context | prefill tok/s | build s | decode tok/s | decode vs dense | step ms (sel/rebuild/fetch/attn/rest) | hit rate | fast MiB | slow MiB | dense MiB | dense/fast |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const base = rows.find((d) => d.policy.name === 'dense' && d.backend === r.backend && d.context === r.context);
    const m = r.stepMs;
    const params = Object.entries(r.policy.params).map(([k, v]) => `${k}=${v}`).join(' ');
    out.push(
      `| ${r.backend} | ${r.policy.name}${params ? ` (${params})` : ''} | ${r.context} | ${r.prefillTokensPerSecond.toFixed(1)} | ${r.buildSeconds.toFixed(2)} | ${r.decodeTokensPerSecond.toFixed(2)} | ${base ? `${(r.decodeTokensPerSecond / base.decodeTokensPerSecond).toFixed(2)}x` : '-'} | ${m.total.toFixed(1)} (${m.selection.toFixed(1)}/${m.keyRebuild.toFixed(1)}/${m.valueFetch.toFixed(1)}/${m.attention.toFixed(1)}/${m.rest.toFixed(1)}) | ${r.cacheHitRate === null ? '-' : `${(100 * r.cacheHitRate).toFixed(0)}%`} | ${mib(r.memory.fastBytes)} | ${mib(r.memory.slowBytes)} | ${mib(r.memory.denseBytes)} | ${(r.memory.denseBytes / r.memory.fastBytes).toFixed(2)} |`,
    );
  }
  return out.join('\n');
}
