// Speed and memory benchmark: prefill N tokens, decode M, per-step time split and KV memory, per policy and backend.
import type { BackendCounters, KvCachePolicy } from '@shadowkv/core';
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
  /** The backend's own work counters per decode step (mean over the steps), or null where it keeps none. */
  counters: BackendCounters | null;
}

/** Per-step difference of two counter snapshots (gpuMs stays null unless both have it). */
function countersPerStep(before: BackendCounters, after: BackendCounters, steps: number): BackendCounters {
  const d = (k: Exclude<keyof BackendCounters, 'gpuMs'>) => (after[k] - before[k]) / steps;
  return {
    dispatches: d('dispatches'),
    submits: d('submits'),
    hostReads: d('hostReads'),
    bufferCreations: d('bufferCreations'),
    bindGroupCreations: d('bindGroupCreations'),
    bytesUploaded: d('bytesUploaded'),
    bytesReadBack: d('bytesReadBack'),
    deviceBytesRead: d('deviceBytesRead'),
    gpuMs: before.gpuMs !== null && after.gpuMs !== null ? (after.gpuMs - before.gpuMs) / steps : null,
  };
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
      const c0 = engine.backend.counters?.();
      const t1 = performance.now();
      const tokens = await engine.greedy(state, logits, newTokens);
      const decodeMs = performance.now() - t1;
      const c1 = engine.backend.counters?.();
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
        // Per forward step (tokens - 1 of them: the first token comes from the prefill logits).
        counters: c0 && c1 ? countersPerStep(c0, c1, Math.max(1, tokens.length - 1)) : null,
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
  const counted = rows.filter((r) => r.counters);
  if (counted.length > 0) out.push('', formatCountersTable(counted));
  return out.join('\n');
}

/** The backends' own counters per decode step: launches, submits, host round trips, allocations, bytes. */
export function formatCountersTable(rows: SpeedResult[]): string {
  const out = [
    '| backend | policy | context | dispatches | submits | host reads | buffers created | bind groups created | KiB uploaded | KiB read back | MiB read on device | GPU ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const n = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  for (const r of rows) {
    const c = r.counters;
    if (!c) continue;
    out.push(
      `| ${r.backend} | ${r.policy.name} | ${r.context} | ${n(c.dispatches)} | ${n(c.submits)} | ${n(c.hostReads)} | ${n(c.bufferCreations)} | ${n(c.bindGroupCreations)} | ${(c.bytesUploaded / 1024).toFixed(1)} | ${(c.bytesReadBack / 1024).toFixed(1)} | ${(c.deviceBytesRead / 2 ** 20).toFixed(2)} | ${c.gpuMs === null ? '-' : c.gpuMs.toFixed(2)} |`,
    );
  }
  return out.join('\n');
}
