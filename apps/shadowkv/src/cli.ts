#!/usr/bin/env node
// The shadowkv command line: generate, demo, and the niah / speed benchmarks.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { InvalidOptionError, type KernelBackend, type KvCachePolicy } from '@shadowkv/core';
import { describeRange, kebabCase, parseParamValue, type ParamSpec } from '@shadowkv/kv-policies';
import { BACKEND_NAMES, type BackendName } from './backends.js';
import { registerCliBackends } from './cli-backends.js';
import { formatNiahTable, mergeNiah, readNiah, runNiah, shardRows, type NiahResult } from './bench/niah.js';
import { PrefillRecordingCache } from './bench/prefill-recording.js';
import { formatSpeedTable, runSpeed, type SpeedResult } from './bench/speed.js';
import { backendThreads, formatSpeedComparison, peerThreadCounts, runSpeedComparison, type SpeedComparison } from './bench/speed-comparison.js';
import { findPeerGguf, LlamaCppPeer, NODE_LLAMA_CPP_VERSION } from './bench/peer-llama-cpp.js';
import { createEngine, type Engine, type PromptInput } from './engine.js';
import type { WeightsDtype } from '@shadowkv/model-llama';
import { createPolicy, parsePolicySpec, POLICY_NAMES, POLICY_SCHEMAS, type PolicyOptions } from './policy-options.js';
import { addSessionOptions, applyMaxContext, readTurns, runSessionGenerate, wantsSession } from './cli-session.js';
import { createProgress } from './progress.js';
import { ensureRandomModel } from './random-models.js';
import { DEMO_SHADOWKV, formatDemo, runNeedleDemo } from './demo.js';
import { addressedCommand, checkInputFile, checkModelDir, readInputFile, userErrorReport } from './cli-errors.js';
import { formatThroughputTable, runThroughput, type ThroughputRow } from './bench/throughput.js';
import { writeBenchOut } from './bench/bench-out.js';
import { formatCapacityReport, runCapacity } from './bench/capacity.js';
import { parseBytes } from './scheduler/parse-bytes.js';
import { serve } from './server/serve.js';

/** This package's version: package.json sits one folder above src/, dist/ and the dev bundle alike. */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}"`);
  return n;
};
const intList = (name: string) => (v: string) => v.split(',').map((x) => int(name)(x.trim()));

function addPolicyFlag(cmd: Command, multiple: boolean): Command {
  return cmd
    .addOption(new Option(`--policy <name${multiple ? 's' : ''}>`, `KV cache policy: ${POLICY_NAMES.join(', ')}${multiple ? ' (comma list)' : ''}`).default('dense'));
}

/** Every policy parameter once (a name several policies share, like quantizeValues, is one flag for all of them). */
function policyParams(): { spec: ParamSpec; policies: string[] }[] {
  const byName = new Map<string, { spec: ParamSpec; policies: string[] }>();
  for (const name of POLICY_NAMES) {
    for (const spec of POLICY_SCHEMAS[name].params) {
      const seen = byName.get(spec.name);
      if (seen) seen.policies.push(name);
      else byName.set(spec.name, { spec, policies: [name] });
    }
  }
  return [...byName.values()];
}

/** One flag per policy parameter, from the policies' schemas (kv-policies): `--chunk-size <value>` for chunkSize. */
function addPolicyOptions(cmd: Command, multiple = false): Command {
  addPolicyFlag(cmd, multiple);
  for (const { spec, policies: owners } of policyParams()) {
    const flag = `--${kebabCase(spec.name)}`;
    const range = spec.type === 'enum' ? [] : [describeRange(spec)]; // commander lists an enum's choices itself
    const help = `${owners.join(', ')}: ${spec.doc} (${[...range, spec.default === undefined ? 'no default' : `default ${String(spec.default)}`].join(', ')})`;
    if (spec.type === 'boolean') cmd.option(flag, help);
    else if (spec.type === 'enum') cmd.addOption(new Option(`${flag} <value>`, help).choices([...(spec.values ?? [])]));
    else {
      cmd.option(`${flag} <value>`, help, (v: string) => {
        try {
          return parseParamValue(spec, v);
        } catch (e) {
          throw new InvalidArgumentError(`${flag}: ${(e as Error).message}`);
        }
      });
    }
  }
  return cmd;
}

function policyOptions(o: Record<string, unknown>): PolicyOptions {
  const p: Record<string, unknown> = {};
  for (const { spec } of policyParams()) if (o[spec.name] !== undefined) p[spec.name] = o[spec.name];
  return p as PolicyOptions;
}

/**
 * Policies from --policy: a comma list of `name[:key=value...]`; inline values override the flags,
 * e.g. `dense,shadowkv:budget=256,shadowkv:budget=128 --rank 32`.
 */
function policies(o: Record<string, unknown>): KvCachePolicy[] {
  return String(o.policy).split(',').map((spec) => {
    let parsed: ReturnType<typeof parsePolicySpec>;
    try {
      parsed = parsePolicySpec(spec, policyOptions(o));
    } catch (e) {
      // A malformed spec is a usage error (commander prints the usage line); bad values are typed errors below.
      if (e instanceof InvalidOptionError && /key=value/.test(e.message)) throw new InvalidArgumentError(`--policy ${e.message.replace(/^option "policy": /, '')}`);
      throw e;
    }
    return createPolicy(parsed.name, parsed.options);
  });
}

function backendOption(multiple = false): Option {
  return new Option(
    `--backend <name${multiple ? 's' : ''}>`,
    `kernel backend: ${BACKEND_NAMES.join(', ')}${multiple ? ' (comma list)' : ''}; auto = CUDA on an NVIDIA GPU, else WebGPU on a real GPU, else wasm, else cpu (the reference)`,
  ).default('auto');
}

/** --threads, --weights-dtype and --verbose: how the engine's backend and weights are set up. */
function addEngineOptions(cmd: Command): Command {
  return cmd
    .option('--threads <n>', 'wasm backend: worker threads (default: its own choice)', int('--threads'))
    .addOption(
      new Option('--weights-dtype <dtype>', "weight matrices in memory (default: the checkpoint's dtype; 16-bit only on backends that take it, else widened to f32)").choices(['f32', 'f16', 'bf16']),
    )
    .option('--verbose', 'print the backend chosen and why, and the weights dtype');
}

/** Backends the command created: destroyed when it ends, so that worker threads (wasm) do not keep the process alive. */
const loadedBackends = new Set<KernelBackend>();

function releaseBackends(): void {
  for (const b of loadedBackends) (b as { destroy?: () => void }).destroy?.();
  loadedBackends.clear();
}

async function loadEngine(model: string, backend: string, quiet: boolean, policy?: KvCachePolicy, flags: Record<string, unknown> = {}): Promise<Engine> {
  if (!BACKEND_NAMES.includes(backend as BackendName)) {
    throw new InvalidArgumentError(`unknown backend "${backend}"; use one of ${BACKEND_NAMES.join(', ')}`);
  }
  // The model directory first: createEngine starts the backend before it reads the model, and 'auto' may spend
  // seconds probing GPUs (Dawn, CUDA) that a mistyped --model would waste.
  await checkModelDir('--model', model);
  let bar: ReturnType<typeof createProgress> | undefined;
  const engine = await createEngine({
    model,
    backend: backend as BackendName,
    cache: policy,
    threads: flags.threads as number | undefined,
    weightsDtype: flags.weightsDtype as WeightsDtype | undefined,
    onLoadProgress: (p) => {
      bar ??= createProgress(`loading ${model}`, p.total, quiet);
      bar.update(p.done);
    },
  });
  bar?.stop();
  loadedBackends.add(engine.backend);
  if (flags.verbose) {
    const w = engine.model.weights;
    process.stderr.write(
      `backend ${engine.backend.name}: ${engine.backendReason}\n` +
        `weights ${w.dtype} (checkpoint ${w.checkpoint}${w.requested ? `, asked ${w.requested}` : ''}${w.note ? `; ${w.note}` : ''}), ${bytes(w.bytes)} of weight matrices; norms f32\n`,
    );
  }
  return engine;
}

async function promptFrom(o: Record<string, unknown>): Promise<PromptInput> {
  const given = ['prompt', 'promptFile', 'inputIds'].filter((k) => o[k] !== undefined);
  if (given.length !== 1) throw new InvalidArgumentError('give exactly one of --prompt, --prompt-file, --input-ids');
  if (o.inputIds !== undefined) {
    const ids = String(o.inputIds).split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    if (ids.some((n) => !Number.isInteger(n))) throw new InvalidArgumentError(`--input-ids must be comma-separated integers, got "${o.inputIds}"`);
    return { inputIds: ids };
  }
  return o.promptFile !== undefined ? await readInputFile('--prompt-file', String(o.promptFile)) : String(o.prompt);
}

function bytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

async function runGenerate(engine: Engine, prompt: PromptInput, o: Record<string, unknown>, json: boolean): Promise<void> {
  const policy = policies(o)[0];
  const quiet = Boolean(o.quiet);
  let bar: ReturnType<typeof createProgress> | undefined;
  const stream = engine.generate(prompt, {
    maxNewTokens: o.maxNewTokens as number,
    temperature: o.temperature as number,
    topK: o.topK as number | undefined,
    topP: o.topP as number | undefined,
    seed: o.seed as number,
    stop: o.stop as string[] | undefined,
    chat: Boolean(o.chat),
    cache: policy,
    onPrefillProgress: (d, t) => {
      bar ??= createProgress('prefill', t, quiet || t < 256);
      bar.update(d);
    },
  });
  let prefillDone = false;
  for await (const c of stream) {
    if (!prefillDone) {
      bar?.stop();
      prefillDone = true;
    }
    if (!json) process.stdout.write(c.text);
  }
  const r = await stream.result;
  // Cache parameters the policy derived (ShadowKV without --rank/--budget/--outliers): its note once, and with
  // --verbose every value used (the JSON result carries them too).
  if (!quiet && !json && typeof r.policy.params.note === 'string') process.stderr.write(`${r.policy.params.note}\n`);
  if (o.verbose) process.stderr.write(`cache ${r.policy.name}: ${Object.entries(r.policy.params).filter(([k]) => k !== 'note').map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  process.stdout.write('\n');
  if (!quiet) {
    process.stderr.write(
      `\n[${r.backend} · ${r.policy.name}] prompt ${r.promptTokens} tokens, prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s; ` +
        `${r.tokens.length} new tokens at ${r.decodeTokensPerSecond.toFixed(2)} tok/s (${r.finishReason}); ` +
        `KV fast ${bytes(r.memory.fastBytes)}, slow ${bytes(r.memory.slowBytes)}, dense would be ${bytes(r.memory.denseBytes)}\n`,
    );
  }
}

function generationOptions(cmd: Command): Command {
  return cmd
    .option('--max-new-tokens <n>', 'tokens to generate', int('--max-new-tokens'), 128)
    .option('--temperature <t>', '0 = greedy', num('--temperature'), 0)
    .option('--top-k <k>', 'sample among the k most likely tokens', int('--top-k'))
    .option('--top-p <p>', 'nucleus sampling mass', num('--top-p'))
    .option('--seed <s>', 'sampling seed', int('--seed'), 0)
    .option('--stop <text...>', 'stop strings')
    .option('--chat', 'render the prompt with the model chat template')
    .option('--json', 'print one JSON object (with "tokens") instead of streaming text')
    .option('--quiet', 'no progress or stats on stderr');
}

export function buildCli(): Command {
  registerCliBackends();
  const program = new Command('shadowkv')
    .description('Long-context Llama inference with the KV cache in shadows (ShadowKV, KCache).')
    .version(VERSION, '-V, --version', 'print the version')
    // Set before the subcommands are added, which inherit them: commander throws instead of exiting, and main()
    // turns every user error into one message, a usage line and exit code 2.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`shadowkv: ${text.replace(/^error: /, '')}`) });

  const gen = program
    .command('generate')
    .description('stream text from a Hugging Face Llama directory')
    .requiredOption('--model <dir>', 'Hugging Face Llama directory')
    .option('--prompt <text>', 'prompt text')
    .option('--prompt-file <file>', 'read the prompt from a file')
    .option('--input-ids <ids>', 'comma-separated token ids (works without tokenizer files)')
    .addOption(backendOption());
  addSessionOptions(generationOptions(addPolicyOptions(gen))).action(async (o) => {
    // Inputs (prompt file, policy flags) are checked before the model loads, which can take minutes.
    // A session run takes its prompts from --turns-file, or continues a resumed session without one.
    const noPrompt = o.turnsFile !== undefined || (o.resumeSession !== undefined && ['prompt', 'promptFile', 'inputIds'].every((k) => o[k] === undefined));
    const prompt = noPrompt ? null : await promptFrom(o);
    if (o.turnsFile !== undefined) await readTurns(o.turnsFile);
    if (o.resumeSession !== undefined) await checkInputFile('--resume-session', String(o.resumeSession));
    policies(o);
    const engine = await loadEngine(o.model, o.backend, Boolean(o.quiet || o.json), undefined, o);
    applyMaxContext(engine, o);
    if (wantsSession(o)) await runSessionGenerate(engine, prompt, o, policies(o)[0]);
    else await runGenerate(engine, prompt as PromptInput, o, Boolean(o.json));
  });

  const demo = program
    .command('demo')
    .description('the shipped needle model finds a pass key deep in a long prompt with the dense and the ShadowKV cache, side by side (fast-side memory, decode speed); --random or --model DIR: generate, then compare dense, ShadowKV and KCache on a long prompt')
    .option('--random', 'use a seeded random tiny Llama (untrained: gibberish text, real pipeline) for a speed run')
    .option('--model <dir>', 'use this Hugging Face Llama directory (as --random does)')
    .option('--prompt <text>', 'prompt text (--random, --model)', 'The pass key is 48213. Remember it. What is the pass key?')
    .option('--input-ids <ids>', 'comma-separated token ids (--random, --model)')
    .option('--context <n>', 'prompt tokens of the comparison (needle demo: 4000; --random/--model: 2048; 0 skips it there)', int('--context'))
    .option('--depth <fraction>', 'needle demo: where the pass key sits, 0 = start of the prompt, 1 = just before the question', num('--depth'), 0.25)
    .addOption(backendOption());
  generationOptions(addPolicyOptions(demo)).action(async (o) => {
    if (!o.model && !o.random) {
      if (!(o.depth >= 0 && o.depth <= 1)) throw new InvalidArgumentError(`--depth must be between 0 and 1, got ${o.depth}`);
      // The demo's ShadowKV (budget 256, 4 outliers, 4 local chunks of 8) needs 320 prompt tokens, and the haystack
      // is cut at whole snippets up to ~120 tokens short of --context.
      if (o.context !== undefined && o.context < 512) throw new InvalidArgumentError(`--context must be at least 512 tokens for the needle demo (its ShadowKV budget is 256 tokens), got ${o.context}`);
      const log = (t: string) => (o.json || o.quiet ? undefined : process.stdout.write(t));
      const r = await runNeedleDemo(
        {
          backend: o.backend,
          threads: o.threads,
          weightsDtype: o.weightsDtype,
          context: o.context ?? 4000,
          depth: o.depth,
          seed: o.seed,
          steps: 32,
          shadowkv: { ...DEMO_SHADOWKV, ...policyOptions(o) },
          quiet: Boolean(o.quiet || o.json),
        },
        log,
      );
      if (o.verbose) process.stderr.write(`backend ${r.backend}: ${r.backendReason}\n`);
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : formatDemo(r));
      return;
    }
    const model = o.model ?? (await ensureRandomModel('tiny'));
    if (!o.model) process.stderr.write('demo model: seeded RANDOM weights (not trained) — the text is gibberish by design; the pipeline is real.\n');
    const engine = await loadEngine(model, o.backend, Boolean(o.quiet || o.json), undefined, o);
    const c = engine.model.config;
    if (!o.json && !o.quiet) process.stderr.write(`model ${model}: ${c.nLayers} layers, ${c.nHeads} heads / ${c.nKvHeads} KV heads, ${(engine.model.parameterCount() / 1e6).toFixed(2)}M parameters, backend ${engine.backend.name}\n`);
    const prompt: PromptInput = o.inputIds !== undefined ? await promptFrom({ inputIds: o.inputIds }) : String(o.prompt);
    process.stdout.write('1) streamed generation\n');
    await runGenerate(engine, prompt, { ...o, maxNewTokens: o.maxNewTokens === 128 ? 32 : o.maxNewTokens }, false);
    const context = Math.min((o.context as number | undefined) ?? 2048, c.maxPositionEmbeddings - 16);
    if (context > 0) {
      process.stdout.write(`\n2) one ${context}-token prompt, prefilled once, decoded 16 tokens under each cache policy\n`);
      const ps = [createPolicy('dense'), createPolicy('shadowkv', { rank: 32, budget: 256, outliers: 4 }), createPolicy('kcache', { topN: 256 })];
      let bar: ReturnType<typeof createProgress> | undefined;
      const rows = await runSpeed(engine, ps, context, 16, (d, t) => {
        bar ??= createProgress('prefill', t, Boolean(o.quiet));
        bar.update(d);
      });
      bar?.stop();
      process.stdout.write(`${formatSpeedTable(rows)}\n`);
      const sk = rows[1];
      process.stdout.write(`ShadowKV keeps ${bytes(sk.memory.fastBytes)} of KV state on the fast side instead of ${bytes(sk.memory.denseBytes)} (${(sk.memory.denseBytes / sk.memory.fastBytes).toFixed(2)}x less), values offloaded: ${bytes(sk.memory.slowBytes)}.\n`);
    }
  });

  const bench = program.command('bench').description('benchmarks (print tables; --json for machine-readable output)');

  const niah = bench
    .command('niah')
    .description('needle-in-a-haystack accuracy over a niah-dev.jsonl file (greedy); several policies share each prefill')
    .requiredOption('--model <dir>', 'Hugging Face Llama directory')
    .requiredOption('--data <file>', 'benchmark rows (jsonl with prompt_ids, answer_ids, task, length)')
    .option('--limit <n>', 'run n rows spread over the file', int('--limit'))
    .option('--jobs <n>', 'split the rows over n processes (about one core each)', int('--jobs'), 1)
    .option('--prefill-cache [dir]', 'record each prompt\'s prefill on disk (default dir under the OS temp dir) and replay it into every policy: exact, and later runs skip the prefill')
    .addOption(new Option('--shard <i/n>', 'run rows i mod n only (used by --jobs)').hideHelp())
    .option('--two-turn', 'ask each question as a second turn: the haystack is prefilled (and compressed) as turn 1, the question then fed into that state')
    .addOption(backendOption())
    .option('--json', 'print JSON')
    .option('--quiet', 'no progress on stderr');
  addPolicyOptions(niah, true).action(async (o) => {
    const ps = policies(o);
    await checkInputFile('--data', o.data);
    if (!o.shard) await checkModelDir('--model', o.model); // before --jobs starts processes that would each fail
    let rows = await readNiah(o.data, o.limit);
    let results: NiahResult[];
    if (o.jobs > 1 && !o.shard) {
      results = await runNiahJobs(o.jobs, ps.length);
    } else {
      if (o.shard) {
        const [i, n] = String(o.shard).split('/').map(Number);
        rows = shardRows(rows, i, n);
      }
      const engine = await loadEngine(o.model, o.backend, Boolean(o.quiet || o.shard), undefined, o);
      const recordings = o.prefillCache
        ? await PrefillRecordingCache.open(typeof o.prefillCache === 'string' ? o.prefillCache : join(tmpdir(), 'shadowkv-prefill-cache'), engine)
        : undefined;
      results = await runNiah(engine, rows, ps, { quiet: o.quiet, label: o.shard ? `niah shard ${o.shard}` : undefined, recordings, twoTurn: Boolean(o.twoTurn) });
    }
    if (o.shard) process.stdout.write(`${JSON.stringify(results)}\n`);
    else if (o.json) process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results)}\n`);
    else for (const r of results) process.stdout.write(`${formatNiahTable(r)}\n\n`);
  });

  const speed = bench
    .command('speed')
    .description('prefill and decode speed, per-step time split and KV memory, side by side')
    .option('--model <dir>', 'Hugging Face Llama directory')
    .option('--random <preset>', 'use a seeded random model with these shapes: tiny, llama-3.2-1b')
    .requiredOption('--context <n>', 'prompt tokens (comma list allowed)', intList('--context'))
    .option('--new-tokens <m>', 'tokens to decode', int('--new-tokens'), 32)
    .addOption(backendOption(true))
    .option('--json', 'print JSON')
    .option('--out <file>', 'also write the table and JSON to this markdown file, updated after each context')
    .option('--max-context <n>', 'allow contexts past max_position_embeddings (speed runs only: RoPE extrapolates, quality untested)', int('--max-context'))
    .addOption(new Option('--peer <engine>', 'also run this engine on the same model and prompts, interleaved, and print ratios ours/peer').choices(['llama.cpp']))
    .option('--peer-model <file.gguf>', "the peer's GGUF (default: <model>-gguf/*-<weights dtype>.gguf beside --model)")
    .option('--peer-threads <list>', 'llama.cpp thread counts (default: ours and 1..cores; its best is reported)', intList('--peer-threads'))
    .option('--repeat <n>', 'with --peer/--bandwidth: interleaved repeats per context (medians reported)', int('--repeat'), 1)
    .option('--bandwidth', 'measure memory read bandwidth in the same run and print the decode floor (weight bytes per step / bandwidth)')
    .option('--quiet', 'no progress on stderr');
  addPolicyOptions(speed, true).action(async (o) => {
    if (!o.model === !o.random) throw new InvalidArgumentError('give exactly one of --model DIR or --random PRESET');
    if (o.peerModel !== undefined) await checkInputFile('--peer-model', o.peerModel);
    const model = o.model ?? (await ensureRandomModel(o.random));
    if (o.peer || o.bandwidth) {
      await speedComparison(model, o, (backend) => loadEngine(model, backend, Boolean(o.quiet), undefined, o));
      return;
    }
    const results: SpeedResult[] = [];
    for (const backend of String(o.backend).split(',')) {
      const engine = await loadEngine(model, backend.trim(), Boolean(o.quiet), undefined, o);
      if (o.maxContext) {
        engine.model.contextLimit = o.maxContext;
        process.stderr.write(`context limit raised to ${o.maxContext} (model trained for ${engine.model.config.maxPositionEmbeddings}): speed and memory only\n`);
      }
      for (const context of o.context as number[]) {
        let bar: ReturnType<typeof createProgress> | undefined;
        const rs = await runSpeed(engine, policies(o), context, o.newTokens, (d, t) => {
          bar ??= createProgress(`${backend} prefill ${context}`, t, Boolean(o.quiet));
          bar.update(d);
        });
        bar?.stop();
        results.push(...rs);
        // Written after every context so that a long run interrupted later keeps what it measured.
        if (o.out) await writeBenchOut(o.out, formatSpeedTable(results), results);
        for (const r of rs) if (!o.quiet) process.stderr.write(`${backend} ${r.policy.name} ${context}: decode ${r.decodeTokensPerSecond.toFixed(2)} tok/s\n`);
      }
    }
    const table = formatSpeedTable(results);
    if (o.json) process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results)}\n`);
    else process.stdout.write(`${table}\n`);
  });

  const throughput = bench
    .command('throughput')
    .description("the paper's throughput table: per context and policy, the largest batch whose fast-side KV state fits --kv-memory, and batched decode tok/s at it")
    .option('--model <dir>', 'Hugging Face Llama directory')
    .option('--random <preset>', 'use a seeded random model with these shapes: tiny, llama-3.2-1b')
    .requiredOption('--context <n>', 'prompt tokens (comma list allowed)', intList('--context'))
    .requiredOption('--kv-memory <bytes>', 'fast-side KV budget, e.g. 2GiB, 512MiB, 64MB')
    .option('--new-tokens <m>', 'tokens to generate per sequence (>= 2)', int('--new-tokens'), 16)
    .option('--max-batch <n>', 'largest batch tried', int('--max-batch'), 64)
    .option('--dense-host-limit <bytes>', "also run dense at shadowkv's batch (over the budget: the paper's infinite-memory column) when its states fit this many bytes", '0')
    .addOption(backendOption(true))
    .option('--json', 'print JSON')
    .option('--out <file>', 'also write the table and JSON to this markdown file, updated after each context')
    .option('--max-context <n>', 'allow contexts past max_position_embeddings (throughput runs only: RoPE extrapolates, quality untested)', int('--max-context'))
    .option('--prefill-cache [dir]', "prefill one prompt per context once (dense), record it on disk (default dir under the OS temp dir) and replay it into every sequence: the batch shares that prompt, 'prefill s' is replay time, later runs skip the prefill")
    .option('--quiet', 'no progress on stderr');
  addPolicyOptions(throughput, true).action(async (o) => {
    if (!o.model === !o.random) throw new InvalidArgumentError('give exactly one of --model DIR or --random PRESET');
    if (o.newTokens < 2) throw new InvalidArgumentError('--new-tokens must be >= 2 (the first token comes from prefill; decode is measured over the rest)');
    const model = o.model ?? (await ensureRandomModel(o.random));
    const kvMemory = parseBytes(String(o.kvMemory), 'kv-memory');
    const denseHostLimit = o.denseHostLimit === '0' ? 0 : parseBytes(String(o.denseHostLimit), 'dense-host-limit');
    const rows: ThroughputRow[] = [];
    for (const backend of String(o.backend).split(',')) {
      const engine = await loadEngine(model, backend.trim(), Boolean(o.quiet), undefined, o);
      if (o.maxContext) {
        engine.model.contextLimit = o.maxContext;
        process.stderr.write(`context limit raised to ${o.maxContext} (model trained for ${engine.model.config.maxPositionEmbeddings}): throughput and memory only\n`);
      }
      try {
        rows.push(
          ...(await runThroughput(engine, policies(o), o.context as number[], {
            kvMemory,
            newTokens: o.newTokens,
            maxBatch: o.maxBatch,
            denseAtBatchOf: 'shadowkv',
            denseHostLimit,
            recordings: o.prefillCache ? await PrefillRecordingCache.open(typeof o.prefillCache === 'string' ? o.prefillCache : join(tmpdir(), 'shadowkv-prefill-cache'), engine) : undefined,
            onProgress: o.quiet ? undefined : (line) => process.stderr.write(`${backend} ${line}\n`),
            // Written after every context (with the rows of earlier backends) so that an interrupted run keeps what it measured.
            onContext: (rs) => (o.out ? writeBenchOut(o.out, formatThroughputTable([...rows, ...rs]), [...rows, ...rs]) : undefined),
          })),
        );
      } finally {
        engine.dispose();
      }
    }
    if (o.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
    else process.stdout.write(`${formatThroughputTable(rows)}\n`);
  });
  addEngineOptions(throughput);

  const capacity = bench
    .command('capacity')
    .description("the longest context each policy reaches within the backend's memory (wasm32: 4 GiB): weights + fast-side KV + working buffers, from the policies' memory projections; --validate compares with real prefills")
    .option('--model <dir>', 'Hugging Face Llama directory')
    .option('--random <preset>', 'use a seeded random model with these shapes: tiny, llama-3.2-1b')
    .addOption(new Option('--backend <name>', 'kernel backend whose memory is the limit: wasm (4 GiB, wasm32), or cpu/webgpu with --memory').default('wasm'))
    .option('--memory <bytes>', "the budget, e.g. 4GiB, 512MiB (default: the backend's addressable limit, 4 GiB for wasm32)")
    .option('--context <n>', 'also check this prompt length: a typed error (exit 2) when a policy does not fit', int('--context'))
    .option('--new-tokens <m>', 'tokens generated after the prompt (the cache holds prompt + these)', int('--new-tokens'), 128)
    .option('--validate <contexts>', 'run real prefills (wasm) at these prompt lengths and compare the projection with the backend counters', intList('--validate'))
    .option('--json', 'print JSON')
    .option('--out <file>', 'also write the tables and JSON to this markdown file')
    .option('--quiet', 'no progress on stderr');
  addEngineOptions(addPolicyOptions(capacity, true)).action(async (o) => {
    if (!o.model === !o.random) throw new InvalidArgumentError('give exactly one of --model DIR or --random PRESET');
    if (o.backend === 'auto' || !BACKEND_NAMES.includes(o.backend)) throw new InvalidArgumentError(`--backend must be one of ${BACKEND_NAMES.filter((b) => b !== 'auto').join(', ')} (the limit is a backend's), got "${o.backend}"`);
    const labels = String(o.policy).split(',').map((s) => s.trim());
    const ps = policies(o);
    const report = await runCapacity({
      modelDir: o.model ?? (await ensureRandomModel(o.random)),
      backend: o.backend,
      memoryBytes: o.memory === undefined ? undefined : parseBytes(String(o.memory), 'memory'),
      threads: o.threads,
      weightsDtype: o.weightsDtype,
      policies: ps.map((policy, i) => ({ label: labels[i], policy })),
      newTokens: o.newTokens,
      context: o.context,
      validate: o.validate,
      onProgress: o.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
    const text = formatCapacityReport(report);
    if (o.out) await writeFile(o.out, `${text}\n\n\`\`\`json\n${JSON.stringify(report)}\n\`\`\`\n`);
    process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${text}\n`);
  });

  const serveCmd = program
    .command('serve')
    .description('OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions (streaming or not), /v1/models, /health, /metrics')
    .requiredOption('--model <dir>', 'Hugging Face Llama directory')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', int('--port'), 8080)
    .option('--kv-memory <bytes>', 'fast-side KV budget shared by running requests, e.g. 2GiB, 512MiB', '1GiB')
    .option('--max-queue <n>', 'requests waiting for KV memory before new ones get 503', int('--max-queue'), 64)
    .option('--prefill-chunk-size <n>', 'default prompt tokens per prefill chunk, interleaved with decode steps (a request may set prefill_chunk_size, up to max(4096, this))', int('--prefill-chunk-size'), 256)
    .addOption(backendOption());
  addEngineOptions(addPolicyOptions(serveCmd)).action(async (o) => {
    if (o.port < 0 || o.port > 65535) throw new InvalidArgumentError(`--port must be in 0..65535, got ${o.port}`);
    if (o.maxQueue < 0) throw new InvalidArgumentError(`--max-queue must be >= 0, got ${o.maxQueue}`);
    if (o.prefillChunkSize < 1) throw new InvalidArgumentError(`--prefill-chunk-size must be >= 1, got ${o.prefillChunkSize}`);
    const kvMemory = parseBytes(String(o.kvMemory), 'kv-memory');
    const policy = policies(o)[0];
    const engine = await loadEngine(o.model, o.backend, Boolean(o.quiet), policy, o);
    try {
      await serve(engine, { host: o.host, port: o.port, kvMemory, maxQueue: o.maxQueue, prefillChunkSize: o.prefillChunkSize });
    } finally {
      engine.dispose();
    }
  });

  for (const cmd of [gen, demo, niah, speed]) addEngineOptions(cmd);
  return program;
}

/** `bench speed` with --peer and/or --bandwidth: interleaved repeats, medians, ratios (bench/speed-comparison.ts). */
async function speedComparison(model: string, o: Record<string, unknown>, load: (backend: string) => Promise<Engine>): Promise<void> {
  const engines: Engine[] = [];
  for (const backend of String(o.backend).split(',')) {
    const engine = await load(backend.trim());
    if (o.maxContext) engine.model.contextLimit = o.maxContext as number;
    engines.push(engine);
  }
  if (!Number.isInteger(o.repeat) || (o.repeat as number) < 1) throw new InvalidArgumentError(`--repeat must be an integer >= 1, got ${o.repeat}`);
  let peer: { peer: LlamaCppPeer; threads: number[] } | undefined;
  if (o.peer) {
    const gguf = (o.peerModel as string | undefined) ?? findPeerGguf(model, engines[0].model.weights.dtype);
    peer = { peer: await LlamaCppPeer.open(gguf), threads: (o.peerThreads as number[] | undefined) ?? peerThreadCounts(engines.map(backendThreads)) };
    if (!o.quiet) process.stderr.write(`peer: llama.cpp (node-llama-cpp ${NODE_LLAMA_CPP_VERSION}) on ${gguf}, threads ${peer.threads.join(', ')}\n`);
  }
  const write = async (r: SpeedComparison) => {
    if (o.out) await writeBenchOut(o.out as string, formatSpeedComparison(r), r);
  };
  try {
    const r = await runSpeedComparison(engines, {
      contexts: o.context as number[],
      newTokens: o.newTokens as number,
      repeat: o.repeat as number,
      policies: () => policies(o),
      peer,
      bandwidth: Boolean(o.bandwidth),
      quiet: Boolean(o.quiet),
      onProgress: write,
    });
    await write(r);
    process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `${formatSpeedComparison(r)}\n`);
  } finally {
    await peer?.peer.dispose();
  }
}

/** Re-runs this command in `jobs` child processes, each on a shard of the rows, and merges their results. */
async function runNiahJobs(jobs: number, nPolicies: number): Promise<NiahResult[]> {
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--jobs' && all[i - 1] !== '--jobs' && !a.startsWith('--jobs='));
  const runs = Array.from({ length: jobs }, (_, i) =>
    new Promise<NiahResult[]>((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args, '--shard', `${i}/${jobs}`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`niah shard ${i}/${jobs} exited with code ${code}`));
        resolve(JSON.parse(out.trim().split('\n').pop()!) as NiahResult[]);
      });
    }),
  );
  const parts = await Promise.all(runs);
  return Array.from({ length: nPolicies }, (_, p) => mergeNiah(parts.map((r) => r[p])));
}

export async function main(argv = process.argv): Promise<void> {
  const program = buildCli();
  try {
    await program.parseAsync(argv);
    releaseBackends();
  } catch (err) {
    releaseBackends();
    const report = userErrorReport(err, addressedCommand(program, argv.slice(2)));
    if (!report) throw err;
    process.stderr.write(report.text);
    process.exitCode = report.code;
  }
}

const invokedDirectly = process.argv[1] && /cli\.(ts|js|mjs)$/.test(process.argv[1]);
if (invokedDirectly) void main();
