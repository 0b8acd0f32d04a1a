// Decode-step timer for the wasm backend on a real model: prefills a synthetic prompt once (dense KV), then times
// each greedy decode step on its own (forward of one token + reading its logits) and reports the mean, median,
// 10th percentile and minimum. On a shared machine the mean mostly measures preemption; the minimum and p10 are
// the steps that ran unpreempted, which is what a before/after comparison of kernels can rely on.
// Run: npx tsx --conditions=@shadowkv/source packages/kernels-wasm/bench/decode-step.ts \
//        [--model ../shared/models/needle-llama] [--threads 1] [--context 1024] [--steps 300]
// Prints one line of JSON.
import { readFileSync } from 'node:fs';
import { dense } from '@shadowkv/kv-policies';
import { LlamaModel } from '@shadowkv/model-llama';
import { wasm } from '../src/index.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const modelDir = opt('model', '../shared/models/needle-llama');
const threads = Number(opt('threads', '1'));
const context = Number(opt('context', '1024'));
const steps = Number(opt('steps', '300'));

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

const backend = await wasm({ threads });
const model = await LlamaModel.load(modelDir, { backend });
const c = model.config;
const policy = dense();
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

const ms: number[] = [];
for (let s = 0; s < steps; s++) {
  const t0 = performance.now();
  const t = await model.forward([token], state, { lastLogits: true });
  const logits = (await backend.read(t!)) as Float32Array;
  backend.dispose(t!);
  ms.push(performance.now() - t0);
  token = argmax(logits);
}
const sorted = [...ms].sort((a, b) => a - b);
const q = (p: number): number => +sorted[Math.floor(p * (sorted.length - 1))].toFixed(3);
let load = 'n/a';
try {
  load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
} catch {
  // not Linux: no load average
}
console.log(
  JSON.stringify({
    model: modelDir, threads, context, steps, weights: model.weights.dtype,
    meanMs: +(ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(3), medianMs: q(0.5), p10Ms: q(0.1), minMs: q(0), load,
  }),
);
state.dispose();
backend.destroy();
