// `shadowkv demo`: the shipped needle model finds a pass key hidden deep in a long haystack, once with the dense
// cache and once with ShadowKV, and the two are compared on fast-side memory and decode speed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32, type KvCachePolicy, type KvMemoryReport } from '@shadowkv/core';
import type { WeightsDtype, WeightsPlacement } from '@shadowkv/model-llama';
import type { BackendName } from './backends.js';
import { createEngine, type Engine } from './engine.js';
import { createPolicy, type PolicyOptions } from './policy-options.js';
import { argmax } from './sampler.js';
import { createProgress } from './progress.js';

/**
 * The small trained needle model shipped in assets/ (see its MODEL_CARD.md), found beside src/, dist/ or the
 * launcher's bundle (all one folder below the package root).
 */
export function needleModelDir(): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'assets', 'needle-llama');
  if (!existsSync(join(dir, 'model.safetensors'))) throw new Error(`the demo model is missing: ${dir}/model.safetensors`);
  return dir;
}

/**
 * ShadowKV settings of the demo: the ones measured on this model's needle benchmark (BENCHMARKS.md, 92.9% over
 * 240 prompts at budget 256): rank 32 of the 128 key columns, 256 tokens fetched per step, 4 outlier chunks.
 */
export const DEMO_SHADOWKV: PolicyOptions = { rank: 32, budget: 256, outliers: 4 };

const WORDS = ['alpha', 'batch', 'cache', 'delta', 'event', 'frame', 'graph', 'index', 'layer', 'merge', 'node', 'order', 'parse', 'queue', 'range', 'score', 'token', 'value', 'width', 'yield'];

/** One small Python function, varied by the random draws (the model was trained on Python source). */
function pythonSnippet(rand: () => number): string {
  const pick = () => WORDS[Math.floor(rand() * WORDS.length)];
  const [a, b, c] = [pick(), pick(), pick()];
  const k = 2 + Math.floor(rand() * 9);
  return (
    `def ${a}_${b}(${c}s, limit=${k * 10}):\n` +
    `    total = 0\n` +
    `    for i, ${c} in enumerate(${c}s):\n` +
    `        if ${c} % ${k} == 0:\n` +
    `            total += ${c} * ${k}\n` +
    `        elif i > limit:\n` +
    `            break\n` +
    `    return total\n\n`
  );
}

export interface NeedlePrompt {
  text: string;
  passKey: string;
  /** Token ids (BOS first), and where the needle starts among them. */
  ids: number[];
  needleAt: number;
}

/**
 * A haystack of generated Python about `tokens` long with the pass-key needle at `depth` (0 = start, 1 = end),
 * in the format the model was trained on (its MODEL_CARD.md), ending with the question.
 */
export function needlePrompt(engine: Engine, tokens: number, depth: number, seed: number): NeedlePrompt {
  const rand = mulberry32(seed);
  const passKey = String(10000 + Math.floor(rand() * 90000));
  const needle = `\nThe pass key is ${passKey}. Remember it. ${passKey} is the pass key.\n`;
  const question = '\nWhat is the pass key? The pass key is';
  const tok = engine.requireTokenizer();
  const count = (s: string) => tok.encode(s, { addSpecialTokens: false }).length;
  const budget = tokens - 1 - count(needle) - count(question);
  // Snippets are ~60 tokens; grow the haystack until it fills the budget, then cut at a snippet boundary.
  const snippets: string[] = [];
  let used = 0;
  for (;;) {
    const s = pythonSnippet(rand);
    const n = count(s);
    if (used + n > budget) break;
    snippets.push(s);
    used += n;
  }
  const cut = Math.round(snippets.length * depth);
  const before = snippets.slice(0, cut).join('');
  const text = before + needle + snippets.slice(cut).join('') + question;
  const ids = engine.encodePrompt(text);
  return { text, passKey, ids, needleAt: 1 + count(before) };
}

export interface DemoRow {
  policy: { name: string; params: KvCachePolicy['params'] };
  answer: string;
  correct: boolean;
  decodeTokensPerSecond: number;
  memory: KvMemoryReport;
}

export interface DemoResult {
  model: string;
  backend: string;
  /** Why this backend (the 'auto' decision, or asked for by name). */
  backendReason: string;
  /** Worker threads of the backend (wasm), null for backends without them. */
  threads: number | null;
  /** How the weight matrices are held (dtype asked, the checkpoint's, the one used, and why they differ). */
  weights: WeightsPlacement;
  contextTokens: number;
  passKey: string;
  needleAt: number;
  prefillSeconds: number;
  /** Greedy tokens decoded per cache. */
  steps: number;
  rows: DemoRow[];
}

export interface DemoOptions {
  backend: BackendName;
  /** Worker threads of the wasm backend (default: its own choice). */
  threads?: number;
  /** Weight matrices in memory (default: the checkpoint's dtype, when the backend takes it). */
  weightsDtype?: WeightsDtype;
  context: number;
  depth: number;
  seed: number;
  /** Decode steps timed per policy (the answer is read from the first ones). */
  steps: number;
  shadowkv: PolicyOptions;
  quiet: boolean;
}

/** Loads the needle model, prefills the needle prompt once for both caches and decodes under each. */
export async function runNeedleDemo(o: DemoOptions, log: (s: string) => void): Promise<DemoResult> {
  const model = needleModelDir();
  // Said before anything slow, so the command answers at once.
  log(`shadowkv demo: a pass key hidden in a ${o.context}-token prompt, retrieved with the dense cache and with ShadowKV\n`);
  const engine = await createEngine({ model, backend: o.backend, threads: o.threads, weightsDtype: o.weightsDtype });
  try {
    const prompt = needlePrompt(engine, o.context, o.depth, o.seed);
    const c = engine.model.config;
    const threads = backendThreads(engine);
    log(
      `model: needle-llama, ${(engine.model.parameterCount() / 1e6).toFixed(2)}M parameters, trained on Python source with pass keys\n` +
        `       (${c.nLayers} layers, ${c.nKvHeads} KV heads x ${c.headDim}; apps/shadowkv/assets/needle-llama/MODEL_CARD.md)\n` +
        `${describeSetup(engine.backend.name, threads, engine.model.weights, o.threads)}\n` +
        `prompt: ${prompt.ids.length} tokens of generated Python; the pass key ${prompt.passKey} is hidden at token ${prompt.needleAt} ` +
        `(${Math.round(100 * o.depth)}% deep), the question comes last\n\n`,
    );
    const policies = [createPolicy('dense'), createPolicy('shadowkv', o.shadowkv)];
    let bar: ReturnType<typeof createProgress> | undefined;
    const t0 = performance.now();
    const { states, logits } = await engine.prefillShared(prompt.ids, policies, prompt.ids.length + o.steps, 512, (d, t) => {
      bar ??= createProgress('prefill, shared by both caches', t, o.quiet);
      bar.update(d);
    });
    bar?.stop();
    const prefillSeconds = (performance.now() - t0) / 1000;
    const tok = engine.requireTokenizer();
    const rows: DemoRow[] = [];
    try {
      // Greedy decoding, one step of each cache in turn, so that a busy machine slows both alike; the speed is
      // the median step (the first token comes from the prefill's logits and is not timed).
      const tokens = policies.map(() => [argmax(logits)]);
      const stepMs: number[][] = policies.map(() => []);
      for (let i = 1; i < o.steps; i++) {
        for (let p = 0; p < policies.length; p++) {
          const t1 = performance.now();
          const out = await engine.model.forward([tokens[p][i - 1]], states[p], { lastLogits: true });
          const next = argmax((await engine.backend.read(out!)) as Float32Array);
          engine.backend.dispose(out!);
          stepMs[p].push(performance.now() - t1);
          tokens[p].push(next);
        }
      }
      for (let p = 0; p < policies.length; p++) {
        // The answer is " 12345." : the text up to the first period.
        const answer = tok.decode(tokens[p], { skipSpecialTokens: true }).split('.')[0].trim();
        rows.push({
          policy: { name: policies[p].name, params: policies[p].params },
          answer,
          correct: answer === prompt.passKey,
          decodeTokensPerSecond: 1000 / median(stepMs[p]),
          memory: states[p].memory(),
        });
      }
    } finally {
      for (const s of states) s.dispose();
    }
    return {
      model,
      backend: engine.backend.name,
      backendReason: engine.backendReason,
      threads: backendThreads(engine),
      weights: engine.model.weights,
      contextTokens: prompt.ids.length,
      passKey: prompt.passKey,
      needleAt: prompt.needleAt,
      prefillSeconds,
      steps: o.steps,
      rows,
    };
  } finally {
    engine.dispose();
  }
}

/** Worker threads of the engine's backend (wasm), null when it has none (cpu, GPU backends). */
function backendThreads(engine: Engine): number | null {
  const t = (engine.backend as { threads?: unknown }).threads;
  return typeof t === 'number' && t > 0 ? t : null;
}

/**
 * `backend wasm, 2 threads; weights bf16 (the checkpoint's)`: what --backend, --threads and --weights-dtype
 * gave, and a --threads the backend has no use for.
 */
export function describeSetup(backend: string, threads: number | null, w: WeightsPlacement, askedThreads?: number): string {
  const t = threads !== null ? `, ${threads} thread${threads === 1 ? '' : 's'}` : askedThreads !== undefined ? ` (--threads ${askedThreads} unused: it sets the wasm backend's workers)` : '';
  const why = w.note ? `; ${w.note}` : '';
  const how =
    w.requested !== undefined
      ? w.requested === w.dtype ? ' (asked)' : ` (asked ${w.requested}${why})`
      : w.dtype === w.checkpoint ? " (the checkpoint's)" : ` (checkpoint ${w.checkpoint}${why})`;
  return `setup: backend ${backend}${t}; weights ${w.dtype}${how}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** The side-by-side table of a demo run, plain ASCII. */
export function formatDemo(r: DemoResult): string {
  const [d, s] = r.rows;
  const p = s.policy.params;
  const head = ['', 'dense', `ShadowKV (rank ${p.rank}, budget ${p.budget}, outliers ${p.outliers})`];
  const lines: string[][] = [
    head,
    ['answer', `${d.answer} (${d.correct ? 'correct' : 'WRONG'})`, `${s.answer} (${s.correct ? 'correct' : 'WRONG'})`],
    ['KV cache on the fast side', mib(d.memory.fastBytes), `${mib(s.memory.fastBytes)} (${(d.memory.fastBytes / s.memory.fastBytes).toFixed(1)}x less)`],
    ['values moved to slow memory', mib(d.memory.slowBytes), mib(s.memory.slowBytes)],
    ['decode speed', `${d.decodeTokensPerSecond.toFixed(1)} tok/s`, `${s.decodeTokensPerSecond.toFixed(1)} tok/s (${(s.decodeTokensPerSecond / d.decodeTokensPerSecond).toFixed(2)}x)`],
  ];
  const w = [0, 1, 2].map((i) => Math.max(...lines.map((l) => l[i].length)));
  const table = lines.map((l) => l.map((x, i) => x.padEnd(w[i])).join('   ').trimEnd()).join('\n');
  return (
    `${table}\n\n` +
    `Both caches saw the same ${r.contextTokens}-token prompt (prefill ${r.prefillSeconds.toFixed(1)} s, shared). Dense keeps every key and value ` +
    `on the fast side\nand reads all of them each step; ShadowKV keeps a rank-${p.rank} copy of the keys there, moves the values ` +
    `to slow memory\nand, per step, rebuilds and fetches only the ${p.budget} tokens the query needs (plus outliers and the local window).\n` +
    `Decode speed: median of ${r.steps - 1} greedy steps per cache, taken in turn, on the ${r.backend} backend of this machine; the gap grows\nwith the context (BENCHMARKS.md: 2.3x at 4K, 6.4x at 32K on CPU).\n` +
    `${describeSetup(r.backend, r.threads, r.weights)}\n`
  );
}
