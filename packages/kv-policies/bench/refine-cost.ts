// Decode cost of ShadowKV policies side by side on a real model, robust to a shared machine: every policy gets its
// own prefilled state, then the policies decode one step each in turn (interleaved step by step, so load drift
// hits all alike), and each step is timed on its own with the state's per-stage split (selection, key rebuild,
// value fetch, attention). Reports per policy the median and 10th-percentile step (p10: the unpreempted steps)
// and their ratio to the first policy.
// Run: npx tsx --conditions=@shadowkv/source packages/kv-policies/bench/refine-cost.ts \
//        [--backend wasm|cpu] [--threads 2] [--context 4096] [--steps 200] \
//        [--policy 'shadowkv:budget=256:rank=32:outliers=4;shadowkv:budget=256:rank=30:outliers=4:spread=0.5:spreadGroups=8:refine=2:rankAllocation=energy']
//        [--prefill-on wasm]   (with --backend cpu: the prompt is prefilled once on wasm, its pre-RoPE keys and values
//                               recorded and replayed into every policy's CPU state, as bench niah's --prefill-cache
//                               replays a recording: the CPU's own prefill of 16K tokens takes over half an hour)
// Prints a table and one line of JSON (prefix "JSON ").
import { readFileSync } from 'node:fs';
import type { KernelBackend, KvCacheState } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { timeBackendMethods } from '../../kernels-wasm/bench/method-timer.js';
import { wasm } from '../../kernels-wasm/src/index.js'; // bench-only imports: kv-policies depends on neither
import { LlamaModel } from '../../model-llama/src/index.js';
import { DenseState, shadowkv } from '../src/index.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const modelDir = opt('model', '../shared/models/needle-llama');
const backendName = opt('backend', 'wasm');
const threads = Number(opt('threads', '2'));
const context = Number(opt('context', '4096'));
const steps = Number(opt('steps', '200'));
const specs = opt('policy', 'shadowkv:budget=256:rank=32:outliers=4;shadowkv:budget=256:rank=30:outliers=4:spread=0.5:spreadGroups=8:refine=2:rankAllocation=energy').split(';');

/** 'shadowkv:key=value:...' to shadowkv's parameters (numbers where they parse). */
function parse(spec: string): Record<string, number | string> {
  const [name, ...kv] = spec.split(':');
  if (name !== 'shadowkv') throw new Error(`--policy ${spec}: only shadowkv:key=value:... specs`);
  return Object.fromEntries(kv.map((x) => x.split('=')).map(([k, v]) => [k, Number.isNaN(Number(v)) ? v : Number(v)]));
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

// --sparse-threshold N: wasm's parallel threshold of the sparse ops (multiply-adds; default the backend's).
const sparse = argv.includes('--sparse-threshold') ? { thresholds: { sparse: Number(opt('sparse-threshold', '0')) } } : {};
const backend: KernelBackend = backendName === 'cpu' ? cpu() : await wasm({ threads, ...sparse });
const model = await LlamaModel.load(modelDir, { backend });
model.contextLimit = Math.max(model.config.maxPositionEmbeddings, context + steps + 1);
const c = model.config;
const ctx = { backend, model: { nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim }, rope: model.rope, maxSeqLen: context + steps + 1 };
const ids = Array.from({ length: context }, (_, i) => 2 + ((i * 7919) % (c.vocabSize - 2)));

interface Run {
  spec: string;
  state: KvCacheState;
  token: number;
  ms: number[];
  stage: { select: number[]; rebuild: number[]; fetch: number[]; attention: number[] };
}
/** The prompt prefilled once on another backend: per layer its pre-RoPE keys and values (token-major), and the first token. */
async function recordOn(name: string): Promise<{ kPre: Float32Array[]; v: Float32Array[]; token: number }> {
  const be: KernelBackend = name === 'cpu' ? cpu() : await wasm({ threads, ...sparse });
  const m = await LlamaModel.load(modelDir, { backend: be });
  m.contextLimit = model.contextLimit;
  const rctx = { ...ctx, backend: be, rope: m.rope };
  const rec = new DenseState(rctx, { preRopeKeys: true });
  const t0 = performance.now();
  let logits: Float32Array | undefined;
  for (let s = 0; s < context; s += 512) {
    const out = await m.forward(ids.slice(s, Math.min(context, s + 512)), rec, { lastLogits: s + 512 >= context });
    if (out) logits = (await be.read(out)) as Float32Array;
  }
  const kPre: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const layer = await rec.readLayer(l);
    kPre.push(layer.kPre as Float32Array);
    v.push(layer.v);
  }
  rec.dispose();
  (be as { destroy?: () => void }).destroy?.();
  process.stderr.write(`recorded the prefill on ${name} (${context} tokens, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  return { kPre, v, token: argmax(logits as Float32Array) };
}

const prefillOn = opt('prefill-on', '');
const recording = prefillOn ? await recordOn(prefillOn) : undefined;
const runs: Run[] = [];
for (const spec of specs) {
  const policy = shadowkv(parse(spec));
  policy.validate(ctx, context);
  const state = policy.create(ctx);
  const t0 = performance.now();
  let token: number;
  if (recording) {
    // Replayed as bench niah's --prefill-cache does (prefill-recording.ts): the keys rotated on this backend.
    const positions = backend.upload(Int32Array.from({ length: context }, (_, i) => i), [context], 'i32');
    state.beginStep({ start: 0, m: context });
    for (let l = 0; l < c.nLayers; l++) {
      const kPre = backend.upload(recording.kPre[l], [context, c.nKvHeads * c.headDim]);
      const k = backend.rope(kPre, positions, c.nKvHeads, model.rope);
      const v = backend.upload(recording.v[l], [context, c.nKvHeads * c.headDim]);
      await state.append({ layer: l, start: 0, m: context, kPre, k, v });
      for (const t of [kPre, k, v]) backend.dispose(t);
    }
    state.endStep();
    backend.dispose(positions);
    token = recording.token;
  } else {
    for (let s = 0; s < context - 1; s += 512) await model.forward(ids.slice(s, Math.min(context - 1, s + 512)), state);
    const first = await model.forward([ids[context - 1]], state, { lastLogits: true });
    token = argmax((await backend.read(first!)) as Float32Array);
    backend.dispose(first!);
  }
  await state.endPrefill();
  process.stderr.write(`prefilled ${spec} (${context} tokens${recording ? ', replayed' : ''}, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  runs.push({ spec, state, token, ms: [], stage: { select: [], rebuild: [], fetch: [], attention: [] } });
}

// --breakdown: wall time per backend method per step of each policy (each call wrapped in a timer; nested calls
// count in both), reported as medians over the steps.
let current: Run | undefined;
const opMs = new Map<Run, Map<string, number[]>>();
if (argv.includes('--breakdown')) {
  timeBackendMethods(backend, (name, ms) => {
    if (!current) return;
    let m = opMs.get(current);
    if (!m) opMs.set(current, (m = new Map()));
    let e = m.get(name);
    if (!e) m.set(name, (e = new Array<number>(steps).fill(0)));
    e[current.ms.length] += ms;
  });
}

for (let s = 0; s < steps; s++) {
  // Alternate which policy goes first, so neither always runs right after the other's step.
  const order = s % 2 === 0 ? runs : [...runs].reverse();
  for (const r of order) {
    current = r;
    const before = r.state.stats();
    const t0 = performance.now();
    const t = await model.forward([r.token], r.state, { lastLogits: true });
    const logits = (await backend.read(t!)) as Float32Array;
    backend.dispose(t!);
    r.ms.push(performance.now() - t0);
    const after = r.state.stats();
    r.stage.select.push(after.selectMs - before.selectMs);
    r.stage.rebuild.push(after.rebuildMs - before.rebuildMs);
    r.stage.fetch.push(after.fetchMs - before.fetchMs);
    r.stage.attention.push(after.attentionMs - before.attentionMs);
    r.token = argmax(logits);
  }
}

const quantile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];
let load = 'n/a';
try {
  load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
} catch {
  // not Linux
}
const rows = runs.map((r) => ({
  policy: r.spec,
  medianMs: quantile(r.ms, 0.5),
  p10Ms: quantile(r.ms, 0.1),
  stageMedianMs: Object.fromEntries(Object.entries(r.stage).map(([k, v]) => [k, +quantile(v, 0.5).toFixed(3)])),
}));
console.log(`${backendName}${backendName === 'wasm' ? ` ${threads} thread(s)` : ''}, context ${context}, ${steps} interleaved steps per policy, load ${load}`);
console.log('| policy | step median ms | step p10 ms | median vs first | p10 vs first | select / rebuild / fetch / attention (median ms) |');
console.log('|---|---:|---:|---:|---:|---|');
for (const r of rows) {
  const s = r.stageMedianMs;
  console.log(`| ${r.policy} | ${r.medianMs.toFixed(2)} | ${r.p10Ms.toFixed(2)} | ${(r.medianMs / rows[0].medianMs).toFixed(2)}x | ${(r.p10Ms / rows[0].p10Ms).toFixed(2)}x | ${s.select} / ${s.rebuild} / ${s.fetch} / ${s.attention} |`);
}
for (const r of runs) {
  const m = opMs.get(r);
  if (m) console.log(`${r.spec}: per-step median ms per backend method: ${[...m].map(([k, v]) => [k, quantile(v, 0.5)] as const).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
}
console.log('JSON ' + JSON.stringify({ backend: backendName, threads, context, steps, load, date: new Date().toISOString(), rows }));
for (const r of runs) r.state.dispose();
(backend as { destroy?: () => void }).destroy?.();
