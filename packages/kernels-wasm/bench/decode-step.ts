// Decode-step timer for the wasm backend on a real model: prefills a synthetic prompt once (dense KV), then times
// each greedy decode step on its own (forward of one token + reading its logits) and reports the mean, median,
// 10th percentile and minimum. On a shared machine the mean mostly measures preemption; the minimum and p10 are
// the steps that ran unpreempted, which is what a before/after comparison of kernels can rely on.
// Run: npx tsx --conditions=@shadowkv/source packages/kernels-wasm/bench/decode-step.ts \
//        [--model ../shared/models/needle-llama] [--threads 1] [--context 1024] [--steps 300] \
//        [--policy dense|shadowkv] [--rank 32 --budget 256 --outliers 4]   (ShadowKV's parameters, as bench speed's)
//        [--weight-layout rows|rows4]   (how 16-bit weights are stored, see src/weight-layout.ts; default rows4)
//        [--ab sparse=524288,matmul=131072]   (A/B in one run: blocks of 10 steps alternate between the backend's
//        polling thresholds and these; reports each variant's median and p10 and the ratio B/A)
// Prints one line of JSON.
import { readFileSync } from 'node:fs';
import { dense, shadowkv } from '@shadowkv/kv-policies';
import { LlamaModel } from '@shadowkv/model-llama';
import { wasm } from '../src/index.js';
import { timeBackendMethods } from './method-timer.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const modelDir = opt('model', '../shared/models/needle-llama');
const threads = Number(opt('threads', '1'));
const context = Number(opt('context', '1024'));
const steps = Number(opt('steps', '300'));
const policyName = opt('policy', 'dense');
if (policyName !== 'dense' && policyName !== 'shadowkv') throw new Error(`--policy ${policyName}: dense or shadowkv`);

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

const weightLayout = opt('weight-layout', 'rows4') as 'rows' | 'rows4';
const backend = await wasm({ threads, weightLayout });
const model = await LlamaModel.load(modelDir, { backend });
// Past max_position_embeddings for speed runs (as bench speed's --max-context): RoPE extrapolates.
model.contextLimit = Math.max(model.config.maxPositionEmbeddings, context + steps + 1);
const c = model.config;
const policy =
  policyName === 'dense' ? dense() : shadowkv({ rank: Number(opt('rank', '32')), budget: Number(opt('budget', '256')), outliers: Number(opt('outliers', '4')) });
const ctx = { backend, model: { nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim }, rope: model.rope, maxSeqLen: context + steps + 1 };
policy.validate(ctx, context);
const state = policy.create(ctx);
// A deterministic prompt over the vocabulary (the content does not matter for speed).
const ids = Array.from({ length: context }, (_, i) => 2 + ((i * 7919) % (c.vocabSize - 2)));
for (let s = 0; s < context - 1; s += 512) await model.forward(ids.slice(s, Math.min(context - 1, s + 512)), state);
const first = await model.forward([ids[context - 1]], state, { lastLogits: true });
let token = argmax((await backend.read(first!)) as Float32Array);
backend.dispose(first!);
await state.endPrefill();

// --breakdown: wall time per backend method in each timed step (each call wrapped in a timer; nested calls, e.g.
// an op that disposes a temporary or a private helper, count in both), reported as the median over the steps.
const opMs = new Map<string, { ms: number[]; calls: number }>();
let stepIndex = 0;
if (argv.includes('--breakdown')) {
  timeBackendMethods(backend, (name, ms) => {
    let e = opMs.get(name);
    if (!e) opMs.set(name, (e = { ms: new Array<number>(steps).fill(0), calls: 0 }));
    e.ms[stepIndex] += ms;
    e.calls++;
  });
}
// --ab: variant B's parallel thresholds while the pool polls (the private field thresholds() reads).
const abSpec = argv.includes('--ab') ? opt('ab', '') : null;
const bk = backend as unknown as { pollingThresholds: Record<string, number> };
const thresholdsA = { ...bk.pollingThresholds };
const thresholdsB = abSpec ? { ...thresholdsA, ...Object.fromEntries(abSpec.split(',').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])])) } : thresholdsA;
const variantOf = (s: number): 'A' | 'B' => (abSpec && Math.floor(s / 10) % 2 === 1 ? 'B' : 'A');
const ms: number[] = [];
for (let s = 0; s < steps; s++) {
  stepIndex = s;
  bk.pollingThresholds = variantOf(s) === 'A' ? thresholdsA : thresholdsB;
  const t0 = performance.now();
  const t = await model.forward([token], state, { lastLogits: true });
  const logits = (await backend.read(t!)) as Float32Array;
  backend.dispose(t!);
  ms.push(performance.now() - t0);
  token = argmax(logits);
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.floor((s.length - 1) / 2)].toFixed(4);
}
const sorted = [...ms].sort((a, b) => a - b);
const q = (p: number): number => +sorted[Math.floor(p * (sorted.length - 1))].toFixed(3);
let load = 'n/a';
try {
  load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
} catch {
  // not Linux: no load average
}
let ab = {};
if (abSpec) {
  const pick = (v: 'A' | 'B') => ms.filter((_, s) => variantOf(s) === v).sort((a, b) => a - b);
  const stat = (xs: number[]) => ({ medianMs: +xs[Math.floor((xs.length - 1) / 2)].toFixed(3), p10Ms: +xs[Math.floor(0.1 * (xs.length - 1))].toFixed(3) });
  const a = stat(pick('A')), b = stat(pick('B'));
  ab = { ab: { B: thresholdsB, A: a, Bms: b, medianRatioBtoA: +(b.medianMs / a.medianMs).toFixed(3), p10RatioBtoA: +(b.p10Ms / a.p10Ms).toFixed(3) } };
}
console.log(
  JSON.stringify({
    ...ab,
    model: modelDir, policy: policyName, threads, context, steps, weights: model.weights.dtype, weightLayout,
    ...(opMs.size ? { perStepMedianMs: Object.fromEntries([...opMs].map(([k, v]) => [k, median(v.ms)] as const).sort((a, b) => b[1] - a[1])), callsPerStep: Object.fromEntries([...opMs].map(([k, v]) => [k, v.calls / steps])) } : {}),
    ...(argv.includes('--first') ? { firstStepsMs: ms.slice(0, 40).map((x) => +x.toFixed(2)) } : {}),
    meanMs: +(ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(3),
    // bench speed's --new-tokens 32 times the first 31 steps: what warm-up costs shows here.
    first31MeanMs: +(ms.slice(0, 31).reduce((a, b) => a + b, 0) / Math.min(31, ms.length)).toFixed(3), medianMs: q(0.5), p10Ms: q(0.1), minMs: q(0), load,
  }),
);
state.dispose();
backend.destroy();
