// Host vs device chunk-cache bookkeeping for ShadowKV and KCache, side by side in one run on one backend:
// one shared prefill, then decode steps interleaved round-robin over the four states (each policy with the
// bookkeeping on the host, i.e. the backend's chunkCacheUpdate hidden, and on the device). Per mode: medians per
// step of the wall time and its split, host round trips, bytes read back, dispatches, submits and GPU time (the
// backend's own counters), and whether both modes produced the same tokens, hits, misses and bytes moved.
//
//   npx tsx --conditions=@shadowkv/source apps/shadowkv/src/bench/chunk-cache-bench.ts \
//     --model ../shared/models/needle-llama --context 1024 --steps 8 --backend webgpu [--rank 32 --budget 256 --outliers 4 --top-n 256] [--json]
//   (policy flags not given keep the policies' defaults)
//   (--random llama-3.2-1b instead of --model for the 1B shapes)
import { parseArgs } from 'node:util';
import type { BackendCounters, KernelBackend, KvCacheState, KvStepStats } from '@shadowkv/core';
import { kcache, shadowkv } from '@shadowkv/kv-policies';
import { createEngine } from '../engine.js';
import { ensureRandomModel } from '../random-models.js';
import { syntheticPrompt } from './speed.js';

type Mode = 'host' | 'device';

interface StepRecord {
  ms: number;
  select: number;
  rebuild: number;
  fetch: number;
  attention: number;
  hostReads: number;
  bytesReadBack: number;
  dispatches: number;
  submits: number;
  gpuMs: number | null;
}

const { values: o } = parseArgs({
  options: {
    model: { type: 'string' },
    random: { type: 'string' },
    context: { type: 'string', default: '1024' },
    steps: { type: 'string', default: '8' },
    backend: { type: 'string', default: 'webgpu' },
    rank: { type: 'string' },
    budget: { type: 'string' },
    outliers: { type: 'string' },
    'top-n': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

/** Hides (host) or restores (device) the backend's optional chunkCacheUpdate; ChunkCache checks it every step. */
function setMode(backend: KernelBackend, mode: Mode): void {
  if (mode === 'host') Object.defineProperty(backend, 'chunkCacheUpdate', { value: undefined, configurable: true, writable: true });
  else delete (backend as { chunkCacheUpdate?: unknown }).chunkCacheUpdate;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  if (!o.model === !o.random) throw new Error('give exactly one of --model DIR or --random PRESET');
  const modelDir = o.model ?? (await ensureRandomModel(o.random as string));
  const context = Number(o.context);
  const steps = Number(o.steps);
  const engine = await createEngine({ model: modelDir, backend: o.backend as 'webgpu' });
  const backend = engine.backend;
  if (typeof backend.chunkCacheUpdate !== 'function') throw new Error(`${backend.name} has no chunkCacheUpdate: nothing to compare`);
  const counters = (): BackendCounters | undefined => backend.counters?.();
  // Flags not given leave the policies' defaults.
  const given = (k: 'rank' | 'budget' | 'outliers') => (o[k] === undefined ? {} : { [k]: Number(o[k]) });
  const skv = { ...given('rank'), ...given('budget'), ...given('outliers') };
  const kc = o['top-n'] === undefined ? {} : { topN: Number(o['top-n']) };
  const runs: { policy: string; mode: Mode; state?: KvCacheState; next: number; tokens: number[]; steps: StepRecord[]; totals?: KvStepStats }[] = [];
  const policies = [shadowkv(skv), shadowkv(skv), kcache(kc), kcache(kc)];
  const c = engine.model.config;
  const ids = syntheticPrompt(context, c.vocabSize, c.bosTokenId);
  process.stderr.write(`prefill ${context} tokens on ${backend.name}...\n`);
  const { states, logits } = await engine.prefillShared(ids, policies, context + steps + 1);
  policies.forEach((p, i) => runs.push({ policy: p.name, mode: i % 2 === 0 ? 'host' : 'device', state: states[i], next: argmax(logits), tokens: [], steps: [] }));
  try {
    for (let step = 0; step < steps; step++) {
      for (const r of runs) {
        const state = r.state as KvCacheState;
        setMode(backend, r.mode);
        const s0 = { ...state.stats() };
        const c0 = counters();
        const t0 = performance.now();
        const out = (await engine.model.forward([r.next], state, { lastLogits: true }))!;
        r.next = argmax((await backend.read(out)) as Float32Array);
        backend.dispose(out);
        const ms = performance.now() - t0;
        const c1 = counters();
        const s1 = state.stats();
        r.tokens.push(r.next);
        r.steps.push({
          ms,
          select: s1.selectMs - s0.selectMs,
          rebuild: s1.rebuildMs - s0.rebuildMs,
          fetch: s1.fetchMs - s0.fetchMs,
          attention: s1.attentionMs - s0.attentionMs,
          hostReads: c0 && c1 ? c1.hostReads - c0.hostReads : NaN,
          bytesReadBack: c0 && c1 ? c1.bytesReadBack - c0.bytesReadBack : NaN,
          dispatches: c0 && c1 ? c1.dispatches - c0.dispatches : NaN,
          submits: c0 && c1 ? c1.submits - c0.submits : NaN,
          gpuMs: c0?.gpuMs != null && c1?.gpuMs != null ? c1.gpuMs - c0.gpuMs : null,
        });
        process.stderr.write(`step ${step + 1}/${steps} ${r.policy} ${r.mode}: ${ms.toFixed(0)} ms\n`);
      }
    }
    for (const r of runs) r.totals = { ...(r.state as KvCacheState).stats() };
  } finally {
    setMode(backend, 'device');
    for (const s of states) s.dispose();
    engine.model.dispose();
    backend.destroy();
  }

  // Medians over the steps after the first (the first fetches every chunk and compiles pipelines).
  const rows = runs.map((r) => {
    const tail = r.steps.slice(1);
    const m = (k: keyof StepRecord) => median(tail.map((s) => s[k] as number));
    // Counts that vary from step to step (a read-back that overflowed adds a read): means, not medians.
    const mean = (k: keyof StepRecord) => tail.reduce((a, s) => a + (s[k] as number), 0) / tail.length;
    const t = r.totals as KvStepStats;
    return {
      policy: r.policy,
      mode: r.mode,
      stepMs: m('ms'),
      selectMs: m('select'),
      rebuildMs: m('rebuild'),
      fetchMs: m('fetch'),
      attentionMs: m('attention'),
      hostReads: mean('hostReads'),
      bytesReadBack: mean('bytesReadBack'),
      dispatches: m('dispatches'),
      submits: m('submits'),
      gpuMs: tail.every((s) => s.gpuMs !== null) ? median(tail.map((s) => s.gpuMs as number)) : null,
      hits: t.hits,
      misses: t.misses,
      bytesMoved: t.bytesMoved,
      tokens: r.tokens,
    };
  });
  const same = (p: string) => {
    const [h, d] = [rows.find((r) => r.policy === p && r.mode === 'host'), rows.find((r) => r.policy === p && r.mode === 'device')];
    return !!h && !!d && h.tokens.join() === d.tokens.join() && h.hits === d.hits && h.misses === d.misses && h.bytesMoved === d.bytesMoved;
  };
  const model = o.model ?? `--random ${o.random}`;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ model, context, steps, backend: backend.name, rows, identical: { shadowkv: same('shadowkv'), kcache: same('kcache') } })}\n`);
    return;
  }
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const lines = [
    `${model}, context ${context}, ${steps} steps per state, ${backend.name}; medians of steps 2..${steps} (host reads, bytes read back: means)`,
    '',
    '| policy | bookkeeping | step ms | select / rebuild / fetch / attn ms | host reads | bytes read back | dispatches | submits | GPU ms | hits / misses (all steps) | same tokens, hits, misses, bytes as host |',
    '|---|---|---:|---|---:|---:|---:|---:|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.policy} | ${r.mode} | ${f(r.stepMs)} | ${f(r.selectMs)} / ${f(r.rebuildMs)} / ${f(r.fetchMs)} / ${f(r.attentionMs)} | ${f(r.hostReads, 2)} | ${f(r.bytesReadBack, 0)} | ${f(r.dispatches, 0)} | ${f(r.submits, 0)} | ${r.gpuMs === null ? '-' : f(r.gpuMs)} | ${r.hits} / ${r.misses} | ${r.mode === 'device' ? (same(r.policy) ? 'yes' : 'NO') : ''} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
