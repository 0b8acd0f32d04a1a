// The paper's throughput table (ShadowKV, arXiv 2410.21465): per context and policy, the largest batch whose
// fast-side KV state fits a memory budget, and the batched decode throughput at that batch.
import type { KvCachePolicy, KvCacheState } from '@shadowkv/core';
import { projectKvMemory } from '@shadowkv/kv-policies';
import { forwardBatch } from '@shadowkv/model-llama';
import type { Engine } from '../engine.js';
import { argmax } from '../sampler.js';
import { replayPrefill, type PrefillRecording, type PrefillRecordingCache } from './prefill-recording.js';
import { syntheticPrompt } from './speed.js';

export interface ThroughputOptions {
  /** Fast-side KV budget in bytes. */
  kvMemory: number;
  newTokens: number;
  /** Largest batch tried (bounds host memory and run time; default 64). */
  maxBatch?: number;
  /** Prompt tokens per prefill forward (default 512). */
  prefillChunkSize?: number;
  /** Also run dense at the batch of this policy (the paper's "infinite memory" column)... */
  denseAtBatchOf?: string;
  /** ...when that many dense states stay under this many bytes (default 0: never). */
  denseHostLimit?: number;
  onProgress?: (line: string) => void;
  /**
   * Prefill one prompt per context once (dense, recorded here) and replay it into every sequence of every policy
   * (exactly the state a live prefill gives): the batch shares one prompt, and prefillMs is replay time. Without
   * it, each sequence prefills its own prompt live.
   */
  recordings?: PrefillRecordingCache;
  /** Called after each context with every row so far (bench throughput --out rewrites its file here). */
  onContext?: (rows: readonly ThroughputRow[]) => void | Promise<void>;
}

export interface ThroughputRow {
  context: number;
  policy: string;
  params: Readonly<Record<string, number | string | boolean>>;
  /** Batch run: the largest that fits the budget (or, for the dense-at-batch row, the other policy's). */
  batch: number;
  /** True for dense run past the budget at another policy's batch (memory not limited). */
  overBudget: boolean;
  kvMemory: number;
  /** Projected fast-side bytes per sequence (decode bound) and the measured sum after prefill and after decode. */
  projectedBytesPerSeq: number;
  fastBytesAfterPrefill: number;
  fastBytesAfterDecode: number;
  newTokens: number;
  /** 'live': each sequence prefilled its own prompt; 'replayed': one recorded prompt replayed into every sequence. */
  prefill: 'live' | 'replayed';
  prefillMs: number;
  decodeMs: number;
  /** batch × (newTokens - 1) / decode wall time: the tokens the batched decode steps produced (the first comes from prefill), the paper's measure. */
  decodeTokensPerSecond: number;
  /** batch × newTokens / (prefill + decode) wall time. */
  endToEndTokensPerSecond: number;
  backend: string;
}

/**
 * The largest batch B with (B-1) decode states plus one sequence still prefilling within the budget: prompts are
 * prefilled one after another (an offloading state's layer-major prefill holds one layer's dense buffer beside the
 * layers it has converted, projectMemory's prefillFastBytes, only until its prefill ends), then all decode
 * together. 0 when one sequence alone does not fit.
 */
export function largestBatch(kvMemory: number, prefillBytes: number, decodeBytes: number, maxBatch: number): number {
  if (Math.max(prefillBytes, decodeBytes) > kvMemory) return 0;
  const b = 1 + Math.floor((kvMemory - Math.max(prefillBytes, decodeBytes)) / decodeBytes);
  return Math.min(b, maxBatch);
}

/** Prefills `batch` sequences of `context` tokens one by one, then decodes `newTokens` for all of them in batched steps. */
async function runBatch(
  engine: Engine,
  policy: KvCachePolicy,
  context: number,
  batch: number,
  o: ThroughputOptions,
  recording: () => Promise<PrefillRecording>,
): Promise<Omit<ThroughputRow, 'overBudget' | 'kvMemory' | 'projectedBytesPerSeq'>> {
  const { model, backend } = engine;
  const c = model.config;
  const states: KvCacheState[] = [];
  const next: number[] = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) {
      if (o.recordings) {
        const rec = await recording();
        states.push(await replayPrefill(engine, rec, policy, o.newTokens));
        next.push(argmax(rec.logits));
      } else {
        const ids = syntheticPrompt(context, c.vocabSize, c.bosTokenId, i + 1);
        const { state, logits } = await engine.prefill(ids, policy, context + o.newTokens, o.prefillChunkSize ?? 512);
        states.push(state);
        next.push(argmax(logits));
      }
      o.onProgress?.(`${policy.name} ${context}: ${o.recordings ? 'replayed' : 'prefilled'} ${i + 1}/${batch}`);
    }
    const prefillMs = performance.now() - t0;
    const fastBytesAfterPrefill = states.reduce((a, s) => a + s.memory().fastBytes, 0);
    const t1 = performance.now();
    // The first token of each sequence came from its prefill; newTokens - 1 batched steps produce the rest.
    for (let step = 1; step < o.newTokens; step++) {
      const { logits } = await forwardBatch(
        model,
        states.map((state, i) => ({ ids: [next[i]], state, lastLogits: true })),
      );
      const data = (await backend.read(logits!)) as Float32Array;
      backend.dispose(logits!);
      for (let i = 0; i < batch; i++) next[i] = argmax(data.subarray(i * c.vocabSize, (i + 1) * c.vocabSize));
    }
    const decodeMs = performance.now() - t1;
    const fastBytesAfterDecode = states.reduce((a, s) => a + s.memory().fastBytes, 0);
    const tokens = batch * o.newTokens;
    return {
      context,
      policy: policy.name,
      params: policy.params,
      batch,
      fastBytesAfterPrefill,
      fastBytesAfterDecode,
      newTokens: o.newTokens,
      prefill: o.recordings ? 'replayed' : 'live',
      prefillMs,
      decodeMs,
      decodeTokensPerSecond: (batch * (o.newTokens - 1)) / (decodeMs / 1000),
      endToEndTokensPerSecond: tokens / ((prefillMs + decodeMs) / 1000),
      backend: backend.name,
    };
  } finally {
    for (const s of states) s.dispose();
  }
}

/** Rows per context: each policy at its largest batch under the budget, then dense at `denseAtBatchOf`'s batch where host memory allows. */
export async function runThroughput(engine: Engine, policies: KvCachePolicy[], contexts: number[], o: ThroughputOptions): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  for (const context of contexts) {
    const ctx = engine.cacheContext(context + o.newTokens);
    // With recordings: this context's one prompt, read (or recorded) once and kept for every batch of it.
    let rec: Promise<PrefillRecording> | undefined;
    const recording = () => (rec ??= (o.recordings as PrefillRecordingCache).get(engine, syntheticPrompt(context, engine.model.config.vocabSize, engine.model.config.bosTokenId, 1)));
    const batches = new Map<string, number>();
    for (const policy of policies) {
      policy.validate(ctx, context);
      const proj = projectKvMemory(policy, ctx, context);
      const batch = largestBatch(o.kvMemory, proj.prefillFastBytes, proj.decodeFastBytes, o.maxBatch ?? 64);
      batches.set(policy.name, batch);
      if (batch === 0) {
        o.onProgress?.(`${policy.name} ${context}: one sequence needs ${Math.max(proj.prefillFastBytes, proj.decodeFastBytes)} bytes, over the budget ${o.kvMemory}; skipped`);
        continue;
      }
      const r = await runBatch(engine, policy, context, batch, o, recording);
      rows.push({ ...r, overBudget: false, kvMemory: o.kvMemory, projectedBytesPerSeq: proj.decodeFastBytes });
    }
    const dense = policies.find((p) => p.name === 'dense');
    const target = o.denseAtBatchOf ? batches.get(o.denseAtBatchOf) : undefined;
    if (dense && target && target > (batches.get('dense') ?? 0)) {
      const proj = projectKvMemory(dense, ctx, context);
      if (target * proj.decodeFastBytes <= (o.denseHostLimit ?? 0)) {
        const r = await runBatch(engine, dense, context, target, o, recording);
        rows.push({ ...r, overBudget: true, kvMemory: o.kvMemory, projectedBytesPerSeq: proj.decodeFastBytes });
      } else {
        o.onProgress?.(`dense at batch ${target}, context ${context}: ${target * proj.decodeFastBytes} bytes over the host limit ${o.denseHostLimit ?? 0}; skipped`);
      }
    }
    await o.onContext?.(rows);
  }
  return rows;
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(2)}`;
}

/** A markdown table of the rows, with each row's decode throughput as a ratio to dense at the same context within the budget. */
export function formatThroughputTable(rows: ThroughputRow[]): string {
  const head = '| context | policy | batch | budget MiB | fast MiB after prefill / decode | prefill s | decode s | decode tok/s | end-to-end tok/s | vs dense (budget) |\n|---|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map((r) => {
    const base = rows.find((d) => d.context === r.context && d.policy === 'dense' && !d.overBudget);
    const ratio = base ? (r.decodeTokensPerSecond / base.decodeTokensPerSecond).toFixed(2) : 'n/a';
    const name = r.overBudget ? `${r.policy} (over budget)` : r.policy;
    return `| ${r.context} | ${name} | ${r.batch} | ${mib(r.kvMemory)} | ${mib(r.fastBytesAfterPrefill)} / ${mib(r.fastBytesAfterDecode)} | ${(r.prefillMs / 1000).toFixed(2)}${r.prefill === 'replayed' ? ' (replay)' : ''} | ${(r.decodeMs / 1000).toFixed(2)} | ${r.decodeTokensPerSecond.toFixed(1)} | ${r.endToEndTokensPerSecond.toFixed(1)} | ${ratio} |`;
  });
  return [head, ...lines].join('\n');
}
