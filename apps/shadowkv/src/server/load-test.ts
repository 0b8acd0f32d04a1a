// Bounded load test of the OpenAI server (a script, not a unit test): concurrent streaming clients with mixed
// prompt lengths for a fixed time per cache policy, over real HTTP on 127.0.0.1; prints requests, errors,
// tokens/s, time to first token and inter-token latency (p50/p99), and checks every answer against its prompt
// (the pass key found) and a sample against a solo engine.generate run (greedy, token for token).
//   npx tsx --conditions=@shadowkv/source apps/shadowkv/src/server/load-test.ts --clients 64 --seconds 120
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import type { BackendName } from '../backends.js';
import { needleModelDir, needlePrompt, type NeedlePrompt } from '../demo.js';
import { createEngine, type Engine } from '../engine.js';
import { createPolicy, parsePolicySpec } from '../policy-options.js';
import { writeBenchOut } from '../bench/bench-out.js';
import { parseBytes } from '../scheduler/parse-bytes.js';
import { createOpenAiServer } from './openai-server.js';

interface Sample {
  prompt: number;
  ttftMs: number;
  gapsMs: number[];
  tokens: number;
  text: string;
}

export interface LoadResult {
  policy: string;
  clients: number;
  seconds: number;
  requests: number;
  errors: number;
  errorMessages: string[];
  tokensPerSecond: number;
  ttftP50Ms: number;
  ttftP99Ms: number;
  itlP50Ms: number;
  itlP99Ms: number;
  passKeyFound: number;
  soloChecked: number;
  soloEqual: number;
  maxBatch: number;
  /** The machine's 1-minute load average, lowest and highest of the samples taken every 10 s during the run. */
  loadAverage: [number, number];
  /** /metrics after the run: the live gauges (0 when every request freed its state) and the requests by outcome. */
  afterRun: Record<string, number>;
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** One policy's run: a fresh server (scheduler) on the engine, `clients` loops until the deadline, then checks. */
export async function runLoad(
  engine: Engine,
  spec: string,
  prompts: NeedlePrompt[],
  o: { clients: number; seconds: number; kvMemory: number; maxTokens: number; sample: number; prefillChunkSize: number; log: (s: string) => void },
): Promise<LoadResult> {
  const service = engine.scheduler({ kvMemory: o.kvMemory, maxQueue: o.clients, prefillChunkSize: o.prefillChunkSize });
  const app = createOpenAiServer({ engine, service });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 600_000 });
  const samples: Sample[] = [];
  const errors: string[] = [];
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + o.seconds * 1000;
  const loads = [loadavg()[0]];
  const progress = setInterval(() => {
    loads.push(loadavg()[0]);
    const st = service.stats();
    o.log(`${spec}: ${samples.length} done, ${errors.length} errors, ${st.running} running, ${st.queued} queued, KV fast ${(st.fastBytes / 2 ** 20).toFixed(1)} MiB / slow ${(st.slowBytes / 2 ** 20).toFixed(1)} MiB, load ${loads.at(-1)!.toFixed(1)}`);
  }, 10_000);
  const worker = async () => {
    while (performance.now() < deadline) {
      const i = next++ % prompts.length;
      const sent = performance.now();
      let last = sent;
      const s: Sample = { prompt: i, ttftMs: NaN, gapsMs: [], tokens: 0, text: '' };
      try {
        const stream = await client.completions.create({ model: 'm', prompt: prompts[i].text, max_tokens: o.maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true }, cache: spec } as OpenAI.CompletionCreateParamsStreaming);
        for await (const c of stream) {
          const piece = c.choices[0]?.text;
          if (piece) {
            const now = performance.now();
            if (Number.isNaN(s.ttftMs)) s.ttftMs = now - sent;
            else s.gapsMs.push(now - last);
            last = now;
            s.text += piece;
          }
          if (c.usage) s.tokens = c.usage.completion_tokens;
        }
        if (s.tokens === 0) throw new Error('no usage chunk');
        samples.push(s);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, worker));
  const wall = (performance.now() - t0) / 1000;
  clearInterval(progress);
  const stats = service.stats();
  loads.push(loadavg()[0]);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const afterRun: Record<string, number> = {};
  for (const m of metrics.matchAll(/^(shadowkv_(?:running_sequences|queue_depth|kv_fast_bytes|kv_slow_bytes|kv_reserved_fast_bytes|requests_total\{outcome="[a-z]+"\})) (\S+)$/gm)) afterRun[m[1]] = Number(m[2]);
  await app.close();
  // A sample of prompts: every server answer equals the greedy solo run of the same prompt and policy.
  let checked = 0;
  let equal = 0;
  const seen = [...new Set(samples.map((s) => s.prompt))].slice(0, o.sample);
  for (const i of seen) {
    const { name, options } = parsePolicySpec(spec);
    const solo = await engine.generateText(prompts[i].text, { maxNewTokens: o.maxTokens, cache: createPolicy(name, options), prefillChunkSize: o.prefillChunkSize });
    for (const s of samples.filter((x) => x.prompt === i)) {
      checked++;
      if (s.text === solo.text) equal++;
    }
  }
  const tokens = samples.reduce((a, s) => a + s.tokens, 0);
  return {
    policy: spec,
    clients: o.clients,
    seconds: Math.round(wall),
    requests: samples.length,
    errors: errors.length,
    errorMessages: [...new Set(errors)].slice(0, 5),
    tokensPerSecond: tokens / wall,
    ttftP50Ms: pct(samples.map((s) => s.ttftMs), 50),
    ttftP99Ms: pct(samples.map((s) => s.ttftMs), 99),
    itlP50Ms: pct(samples.flatMap((s) => s.gapsMs), 50),
    itlP99Ms: pct(samples.flatMap((s) => s.gapsMs), 99),
    passKeyFound: samples.filter((s) => s.text.includes(prompts[s.prompt].passKey)).length,
    soloChecked: checked,
    soloEqual: equal,
    maxBatch: stats.maxBatch,
    loadAverage: [Math.min(...loads), Math.max(...loads)],
    afterRun,
  };
}

export function formatLoad(rs: LoadResult[]): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
  const head = '| policy | clients | s | requests | errors | tok/s | TTFT p50 / p99 ms | ITL p50 / p99 ms | pass key found | solo-equal sample | max batch | load avg (1 min) |\n|---|---|---|---|---|---|---|---|---|---|---|---|';
  const rows = rs.map(
    (r) =>
      `| ${r.policy} | ${r.clients} | ${r.seconds} | ${r.requests} | ${r.errors} | ${r.tokensPerSecond.toFixed(1)} | ${f(r.ttftP50Ms)} / ${f(r.ttftP99Ms)} | ${f(r.itlP50Ms)} / ${f(r.itlP99Ms)} | ${r.passKeyFound}/${r.requests} | ${r.soloEqual}/${r.soloChecked} | ${r.maxBatch} | ${r.loadAverage[0].toFixed(1)}-${r.loadAverage[1].toFixed(1)} |`,
  );
  return [head, ...rows].join('\n');
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      clients: { type: 'string', default: '64' },
      seconds: { type: 'string', default: '120' },
      lengths: { type: 'string', default: '512,1024,2048' },
      policy: { type: 'string', default: 'dense;shadowkv:rank=32:budget=256:outliers=4' },
      'kv-memory': { type: 'string', default: '512MiB' },
      'max-tokens': { type: 'string', default: '8' },
      prompts: { type: 'string', default: '24' },
      sample: { type: 'string', default: '6' },
      'prefill-chunk-size': { type: 'string', default: '256' },
      threads: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const engine = await createEngine({ model: v.model ?? needleModelDir(), backend: v.backend as BackendName, threads: v.threads === undefined ? undefined : Number(v.threads) });
  log(`load test: ${engine.model.dir} on ${engine.backend.name} (${engine.backendReason})`);
  const lengths = String(v.lengths).split(',').map(Number);
  const prompts = Array.from({ length: Number(v.prompts) }, (_, i) => needlePrompt(engine, lengths[i % lengths.length], (i * 0.37) % 1, 1000 + i));
  const results: LoadResult[] = [];
  try {
    // Policies are separated by ';' (a spec itself uses ':').
    for (const spec of String(v.policy).split(';')) {
      results.push(
        await runLoad(engine, spec.trim(), prompts, {
          clients: Number(v.clients),
          seconds: Number(v.seconds),
          kvMemory: parseBytes(String(v['kv-memory']), 'kv-memory'),
          maxTokens: Number(v['max-tokens']),
          sample: Number(v.sample),
          prefillChunkSize: Number(v['prefill-chunk-size']),
          log,
        }),
      );
      log(formatLoad(results.slice(-1)));
      if (v.out) await writeBenchOut(v.out, formatLoad(results), results);
    }
  } finally {
    engine.dispose();
  }
  process.stdout.write(v.json ? `${JSON.stringify(results)}\n` : `${formatLoad(results)}\n`);
}

if (process.argv[1] && /load-test\.(ts|js)$/.test(process.argv[1])) await main();
