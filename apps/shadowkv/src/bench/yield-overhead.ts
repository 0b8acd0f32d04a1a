// Measures what the event-loop yield before every forward call costs a decode step (issue 14): decode steps of a
// model with the built-in yield (A) against the same steps with one more yield each (B), interleaved in blocks
// on one growing state; B - A is the cost of one yield. Also times bare yields. Prints JSON and a table row.
//   tsx --conditions=@shadowkv/source apps/shadowkv/src/bench/yield-overhead.ts [MODEL_DIR] [--rounds 12] [--block 16]
import { cpu } from '@shadowkv/kernels-cpu';
import { dense } from '@shadowkv/kv-policies';
import { LlamaModel } from '@shadowkv/model-llama';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const dir = argv.find((a) => !a.startsWith('--') && !/^\d+$/.test(a)) ?? '../shared/models/needle-llama';
const rounds = opt('rounds', 12);
const block = opt('block', 16);
const promptLen = opt('prompt', 256);

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const backend = cpu();
const model = await LlamaModel.load(dir, { backend });
const c = model.config;
const policy = dense();
const ctx = { backend, model: { nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim }, rope: model.rope, maxSeqLen: promptLen + 2 * rounds * block + 1 };
policy.validate(ctx, promptLen);
const state = policy.create(ctx);
await model.forward(Array.from({ length: promptLen }, (_, i) => (i * 7) % c.vocabSize), state);
await state.endPrefill();

async function steps(extraYield: boolean): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < block; i++) {
    if (extraYield) await tick();
    const t = await model.forward([(i * 13) % c.vocabSize], state, { lastLogits: true });
    await backend.read(t!);
    backend.dispose(t!);
  }
  return (performance.now() - t0) / block;
}

const a: number[] = [];
const b: number[] = [];
for (let r = 0; r < rounds; r++) {
  // Alternate which goes first so context growth does not favour one side.
  if (r % 2 === 0) {
    a.push(await steps(false));
    b.push(await steps(true));
  } else {
    b.push(await steps(true));
    a.push(await steps(false));
  }
}
const bare: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  for (let i = 0; i < 10_000; i++) await tick();
  bare.push(((performance.now() - t0) / 10_000) * 1000);
}
state.dispose();
model.dispose();
const stepMs = median(a);
const withExtraMs = median(b);
const yieldUs = median(bare);
const out = {
  model: dir,
  backend: 'cpu',
  context: `${promptLen}..${promptLen + 2 * rounds * block}`,
  rounds,
  block,
  stepMsMedian: stepMs,
  stepMsWithExtraYieldMedian: withExtraMs,
  extraYieldPerStepUs: (withExtraMs - stepMs) * 1000,
  bareYieldUsMedian: yieldUs,
  yieldShareOfStep: yieldUs / 1000 / stepMs,
  date: new Date().toISOString(),
};
console.log(JSON.stringify(out, null, 1));
console.log(
  `| ${out.model} | ${out.context} | ${stepMs.toFixed(2)} | ${withExtraMs.toFixed(2)} | ${out.extraYieldPerStepUs.toFixed(1)} | ${yieldUs.toFixed(2)} | ${(out.yieldShareOfStep * 100).toFixed(3)}% |`,
);
