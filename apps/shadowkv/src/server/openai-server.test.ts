// The OpenAI-compatible server driven by the official `openai` client on 127.0.0.1: answers with usage, greedy
// text equal to engine.generate, every bad-request class a 4xx OpenAI error while the server keeps serving,
// /health answered during a generation, a disconnect freeing its request, /metrics, and a draining shutdown.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dense, projectKvMemory } from '@shadowkv/kv-policies';
import { writeRandomLlama } from '@shadowkv/model-llama';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../engine.js';
import { createPolicy } from '../policy-options.js';
import { createOpenAiServer } from './openai-server.js';
import { serve } from './serve.js';

const TOKENIZER_DIR = fileURLToPath(new URL('../../../../fixtures/tokenizer-bpe', import.meta.url));
const CONFIG = { hidden_size: 64, intermediate_size: 128, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 32, max_position_embeddings: 4096 };
const BIG = 1 << 30;

let tmp: string;
let engine: Engine;
let app: FastifyInstance;
let base: string;
let client: OpenAI;

async function start(opts: { kvMemory?: number; maxQueue?: number; bodyLimit?: number; prefillChunkSize?: number } = {}): Promise<{ app: FastifyInstance; base: string }> {
  const service = engine.scheduler({ kvMemory: opts.kvMemory ?? BIG, maxQueue: opts.maxQueue, prefillChunkSize: opts.prefillChunkSize });
  const server = createOpenAiServer({ engine, service, modelId: 'test-llama', bodyLimit: opts.bodyLimit });
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  return { app: server, base: address };
}

/** GET /metrics parsed into sample name (with labels) -> value; every line checked against the text format. */
async function scrape(at = base): Promise<Map<string, number>> {
  const text = await (await fetch(`${at}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      expect(line).toMatch(/^# (HELP|TYPE) [a-z_]+ .+$/);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?)$/.exec(line);
    expect(m, line).not.toBeNull();
    samples.set(`${m![1]}${m![2] ?? ''}`, Number(m![4]));
  }
  return samples;
}

const LIVE = ['shadowkv_running_sequences', 'shadowkv_kv_fast_bytes', 'shadowkv_kv_slow_bytes', 'shadowkv_kv_reserved_fast_bytes', 'shadowkv_queue_depth', 'shadowkv_kv_queued_fast_bytes'];

/** Polls /metrics until no sequence runs (a cancelled one is freed when the step in flight ends). */
async function idleMetrics(): Promise<Map<string, number>> {
  const t0 = performance.now();
  let m = await scrape();
  while (m.get('shadowkv_running_sequences') !== 0 && performance.now() - t0 < 5000) {
    await new Promise((r) => setTimeout(r, 10));
    m = await scrape();
  }
  return m;
}

const post = (path: string, body: string, type = 'application/json') => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
const health = async () => (await (await fetch(`${base}/health`)).json()) as { status: string; running: number; queued: number };

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'skv-server-'));
  await writeRandomLlama(join(tmp, 'm'), { config: CONFIG, tokenizerFrom: TOKENIZER_DIR });
  engine = await createEngine({ model: join(tmp, 'm'), backend: 'cpu' });
  ({ app, base } = await start({ bodyLimit: 64 * 1024, prefillChunkSize: 32 }));
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });
});

afterAll(async () => {
  await app?.close();
  engine?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

describe('OpenAI-compatible server', () => {
  it('answers chat and text completions with usage, greedy text equal to engine.generate', async () => {
    const chat = await client.chat.completions.create({ model: 'test-llama', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 8, temperature: 0 });
    expect(chat.object).toBe('chat.completion');
    const ids = engine.encodePrompt({ messages: [{ role: 'user', content: 'Hello there' }] });
    expect(chat.usage?.prompt_tokens).toBe(ids.length);
    const solo = await engine.generateText({ messages: [{ role: 'user', content: 'Hello there' }] }, { maxNewTokens: 8 });
    expect(chat.choices[0].message.content).toBe(solo.text);
    expect(chat.usage?.completion_tokens).toBe(solo.tokens.length);
    expect(chat.usage?.total_tokens).toBe(ids.length + solo.tokens.length);
    expect(chat.choices[0].finish_reason).toBe(solo.finishReason === 'length' ? 'length' : 'stop');

    // Content as a list of text parts is the same prompt as the joined string.
    const parts = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there' }] }], max_tokens: 8 });
    expect(parts.choices[0].message.content).toBe(solo.text);

    const text = await client.completions.create({ model: 'test-llama', prompt: 'def main():', max_tokens: 6, temperature: 0 });
    const soloText = await engine.generateText('def main():', { maxNewTokens: 6 });
    expect(text.object).toBe('text_completion');
    expect(text.choices[0].text).toBe(soloText.text);
    expect(text.usage).toEqual({ prompt_tokens: soloText.promptTokens, completion_tokens: soloText.tokens.length, total_tokens: soloText.promptTokens + soloText.tokens.length });

    // The request's own prefill chunk size (extension field): equal to generate() cut the same way.
    const longIds = Array.from({ length: 90 }, (_, i) => ((i * 11) % 470) + 5);
    const chunked = await client.completions.create({ model: 'm', prompt: longIds, max_tokens: 5, ignore_eos: true, prefill_chunk_size: 7, cache: 'shadowkv:budget=16:chunk-size=4:rank=8:outliers=1:local-chunks=1' } as OpenAI.CompletionCreateParamsNonStreaming);
    const soloChunked = await engine.generateText({ inputIds: longIds }, { maxNewTokens: 5, ignoreEos: true, prefillChunkSize: 7, cache: createPolicy('shadowkv', { budget: 16, chunkSize: 4, rank: 8, outliers: 1, localChunks: 1 }) });
    expect(chunked.choices[0].text).toBe(soloChunked.text);
  });

  it('streams chat and completions as SSE with the usage chunk and [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'test-llama',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Count.' }],
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
      // The extension field: this request's cache policy.
      ...({ cache: 'dense', ignore_eos: true } as object),
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
      if (c.usage) usage = c.usage;
    }
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBe(12);
    const solo = await engine.generateText({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Count.' }] }, { maxNewTokens: 12, ignoreEos: true });
    expect(text).toBe(solo.text);

    const raw = await (await post('/v1/completions', JSON.stringify({ prompt: Array.from({ length: 64 }, (_, i) => (i * 7) % 500 + 2), max_tokens: 4, stream: true, ignore_eos: true, cache: 'shadowkv:budget=16:chunk-size=4:rank=8:outliers=1:local-chunks=1' }))).text();
    const events = raw.trim().split('\n\n');
    expect(events.at(-1)).toBe('data: [DONE]');
    const pieces = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')) as { object: string; choices: { finish_reason: string | null }[] });
    expect(pieces.every((p) => p.object === 'text_completion')).toBe(true);
    expect(pieces.at(-1)?.choices[0].finish_reason).toBe('length');
  });

  it('answers every bad-request class with a 4xx OpenAI error, and the next good request succeeds', async () => {
    const good = JSON.stringify({ prompt: 'ok', max_tokens: 2 });
    const bad: [string, () => Promise<Response>, number, string | null][] = [
      ['malformed JSON', () => post('/v1/completions', '{"prompt": "a",'), 400, null],
      ['wrong type', () => post('/v1/completions', JSON.stringify({ prompt: 'a', max_tokens: '5' })), 400, 'max_tokens'],
      ['out of range', () => post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }], temperature: -1 })), 400, 'temperature'],
      ['missing field', () => post('/v1/chat/completions', JSON.stringify({ model: 'x' })), 400, 'messages'],
      ['bad role', () => post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'wizard', content: 'a' }] })), 400, 'messages.0.role'],
      ['token id outside the vocabulary', () => post('/v1/completions', JSON.stringify({ prompt: [1, 99999] })), 400, 'prompt'],
      ['over the context', () => post('/v1/completions', JSON.stringify({ prompt: 'a', max_tokens: 100000 })), 400, 'messages'],
      ['prompt over the context', () => post('/v1/completions', JSON.stringify({ prompt: Array.from({ length: 5000 }, () => 7), max_tokens: 1 })), 400, 'messages'],
      ['unknown policy', () => post('/v1/completions', JSON.stringify({ prompt: 'a', cache: 'nope' })), 400, 'cache'],
      ['unknown policy parameter', () => post('/v1/completions', JSON.stringify({ prompt: 'a', cache: 'shadowkv:colour=2' })), 400, 'cache'],
      ['n > 1', () => post('/v1/completions', JSON.stringify({ prompt: 'a', n: 2 })), 400, 'n'],
      ['prefill chunk 0', () => post('/v1/completions', JSON.stringify({ prompt: 'a', prefill_chunk_size: 0 })), 400, 'prefill_chunk_size'],
      ['fractional prefill chunk', () => post('/v1/completions', JSON.stringify({ prompt: 'a', prefill_chunk_size: 1.5 })), 400, 'prefill_chunk_size'],
      ['prefill chunk as a string', () => post('/v1/completions', JSON.stringify({ prompt: 'a', prefill_chunk_size: '8' })), 400, 'prefill_chunk_size'],
      ['prefill chunk over the maximum', () => post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'a' }], prefill_chunk_size: 5000 })), 400, 'prefill_chunk_size'],
      ['oversized body', () => post('/v1/completions', JSON.stringify({ prompt: 'x'.repeat(100_000) })), 413, null],
      ['not JSON', () => post('/v1/completions', 'prompt=a', 'application/x-www-form-urlencoded'), 415, null],
      ['unknown route', () => post('/v1/embeddings', good), 404, null],
    ];
    for (const [what, send, status, param] of bad) {
      const res = await send();
      const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
      expect({ what, status: res.status }).toEqual({ what, status });
      expect(typeof body.error.message, what).toBe('string');
      expect(body.error.type, what).toBe('invalid_request_error');
      expect(body.error.param, what).toBe(param);
      const next = await post('/v1/completions', good);
      expect(next.status, `good request after ${what}`).toBe(200);
    }
    // The official client sees the same answer as a typed error.
    await expect(client.completions.create({ model: 'm', prompt: 'a', ...({ cache: 'nope' } as object) })).rejects.toMatchObject({ status: 400, param: 'cache' });
  });

  it('answers /health while a long prefill runs, and a disconnect frees the request', async () => {
    const ac = new AbortController();
    const long = Array.from({ length: 3000 }, (_, i) => (i % 400) + 3);
    const pending = client.completions.create({ model: 'm', prompt: long, max_tokens: 1000, ignore_eos: true, stream: true } as OpenAI.CompletionCreateParamsStreaming, { signal: ac.signal });
    // A /health answer that reports the request running was answered while it computed.
    let seen = false;
    for (let i = 0; i < 400 && !seen; i++) seen = (await health()).running === 1;
    expect(seen).toBe(true);
    // A new request is answered while the long one computes: it joins the batch between steps.
    const short = await client.completions.create({ model: 'm', prompt: 'def g():', max_tokens: 3, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(short.usage?.completion_tokens).toBe(3);
    expect((await health()).running).toBe(1);
    const stream = await pending;
    let chunks = 0;
    try {
      for await (const _ of stream) if (++chunks === 3) ac.abort();
    } catch {
      // the client's own abort
    }
    const t0 = performance.now();
    let h = await health();
    while (h.running > 0 && performance.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 10));
      h = await health();
    }
    expect(h.running).toBe(0);
    const m = await (await fetch(`${base}/metrics`)).text();
    const generated = Number(/^shadowkv_generated_tokens_total (\d+)$/m.exec(m)?.[1]);
    expect(generated).toBeGreaterThan(0);
    // The cancelled request stopped long before its 1000 tokens.
    expect(generated).toBeLessThan(500);

    // A non-streaming request whose client goes away mid-generation is freed too.
    const ac2 = new AbortController();
    const gone = client.completions.create({ model: 'm', prompt: long, max_tokens: 1000, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming, { signal: ac2.signal });
    gone.catch(() => {});
    let running2 = false;
    for (let i = 0; i < 400 && !running2; i++) running2 = (await health()).running === 1;
    expect(running2).toBe(true);
    ac2.abort();
    await expect(gone).rejects.toThrow();
    const t1 = performance.now();
    while ((await health()).running > 0 && performance.now() - t1 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect((await health()).running).toBe(0);
    const after = await (await fetch(`${base}/metrics`)).text();
    expect(Number(/^shadowkv_generated_tokens_total (\d+)$/m.exec(after)?.[1]) - generated).toBeLessThan(500);
  });

  it('serves /v1/models and Prometheus /metrics', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['test-llama']);
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const samples = await scrape();
    for (const name of [...LIVE, 'shadowkv_kv_memory_budget_bytes', 'shadowkv_tokens_per_second', 'shadowkv_time_to_first_token_seconds_count', 'shadowkv_inter_token_seconds_count']) {
      expect(samples.has(name), name).toBe(true);
    }
    expect(samples.get('shadowkv_kv_memory_budget_bytes')).toBe(BIG);
    expect(samples.get('shadowkv_time_to_first_token_seconds_count')).toBeGreaterThan(0);
    expect(samples.get('shadowkv_inter_token_seconds_count')).toBeGreaterThan(0);
    expect(samples.get('shadowkv_http_requests_total{route="/v1/completions",status="400"}')).toBeGreaterThan(0);
    // Earlier tests sent bad bodies (rejected before any compute) and finished requests.
    expect(samples.get('shadowkv_requests_total{outcome="rejected"}')).toBeGreaterThan(0);
    expect(samples.get('shadowkv_requests_total{outcome="length"}')).toBeGreaterThan(0);
  });

  it('/metrics live KV gauges rise while a request runs and fall to 0 when it ends or is cancelled', async () => {
    const before = await idleMetrics();
    for (const g of LIVE) expect(before.get(g), g).toBe(0);
    const count = (m: Map<string, number>, outcome: string) => m.get(`shadowkv_requests_total{outcome="${outcome}"}`) ?? 0;

    // A dense request: fast bytes while it decodes, nothing offloaded; all back to 0 once it has ended.
    const dense = await client.completions.create({ model: 'm', prompt: 'def f(x):', max_tokens: 6, ignore_eos: true, stream: true, cache: 'dense' } as OpenAI.CompletionCreateParamsStreaming);
    const it = dense[Symbol.asyncIterator]();
    await it.next();
    const during = await scrape();
    expect(during.get('shadowkv_running_sequences')).toBe(1);
    expect(during.get('shadowkv_kv_fast_bytes')).toBeGreaterThan(0);
    expect(during.get('shadowkv_kv_slow_bytes')).toBe(0);
    // Admission reserves the projected decode bound, at least what the state holds now.
    expect(during.get('shadowkv_kv_reserved_fast_bytes')).toBeGreaterThanOrEqual(during.get('shadowkv_kv_fast_bytes')!);
    while (!(await it.next()).done);
    const ended = await idleMetrics();
    for (const g of LIVE) expect(ended.get(g), g).toBe(0);
    expect(count(ended, 'length')).toBe(count(before, 'length') + 1);

    // A ShadowKV request: after its prefill the values are offloaded (slow bytes) and the fast side is the sparse
    // state; cancelling it frees both.
    const ac = new AbortController();
    const prompt = Array.from({ length: 400 }, (_, i) => ((i * 13) % 450) + 3);
    const sparse = await client.completions.create(
      { model: 'm', prompt, max_tokens: 1000, ignore_eos: true, stream: true, cache: 'shadowkv:budget=16:chunk-size=4:rank=8:outliers=1:local-chunks=1' } as OpenAI.CompletionCreateParamsStreaming,
      { signal: ac.signal },
    );
    let live: Map<string, number> | undefined;
    try {
      let n = 0;
      for await (const _ of sparse) {
        if (++n === 3) {
          live = await scrape();
          ac.abort();
        }
      }
    } catch {
      // the client's own abort
    }
    expect(live?.get('shadowkv_running_sequences')).toBe(1);
    expect(live?.get('shadowkv_kv_fast_bytes')).toBeGreaterThan(0);
    expect(live?.get('shadowkv_kv_slow_bytes')).toBeGreaterThan(0);
    expect(live?.get('shadowkv_kv_reserved_fast_bytes')).toBeGreaterThan(0);
    const freed = await idleMetrics();
    for (const g of LIVE) expect(freed.get(g), g).toBe(0);
    // The server learns of the disconnect from the socket: the outcome is counted once it has noticed.
    const t0 = performance.now();
    let after = freed;
    while (count(after, 'cancelled') === count(before, 'cancelled') && performance.now() - t0 < 5000) after = await scrape();
    expect(count(after, 'cancelled')).toBe(count(before, 'cancelled') + 1);
    expect(after.get('shadowkv_generated_tokens_total')).toBeGreaterThan(before.get('shadowkv_generated_tokens_total')!);
  });

  it('refuses a request when the queue is full with 503, and a shutdown drains the running request', async () => {
    // A budget that holds one request at a time and no queue: a second concurrent request is refused.
    const prompt = 'def f():';
    const n = engine.encodePrompt(prompt).length;
    const p = projectKvMemory(dense(), engine.cacheContext(n + 40), n);
    const one = await start({ kvMemory: Math.ceil(1.5 * Math.max(p.prefillFastBytes, p.decodeFastBytes)), maxQueue: 0, prefillChunkSize: 8 });
    const c = new OpenAI({ baseURL: `${one.base}/v1`, apiKey: 'unused', maxRetries: 0 });
    try {
      const first = await c.completions.create({ model: 'm', prompt, max_tokens: 40, stream: true, ignore_eos: true } as OpenAI.CompletionCreateParamsStreaming);
      const it = first[Symbol.asyncIterator]();
      await it.next();
      await expect(c.completions.create({ model: 'm', prompt, max_tokens: 40 })).rejects.toMatchObject({ status: 503, code: 'queue_full' });
      // Closing while the first request streams: it still gets every token, then the server ends.
      const closed = one.app.close();
      let n = 1;
      let finish: string | null = null;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        n++;
        finish = r.value.choices[0]?.finish_reason ?? finish;
      }
      await closed;
      expect(finish).toBe('length');
      expect(n).toBeGreaterThan(2);
      await expect(fetch(`${one.base}/health`)).rejects.toThrow();
    } finally {
      await one.app.close();
    }
  });

  it('serve() listens until SIGINT, then drains and resolves', async () => {
    const lines: string[] = [];
    let address = '';
    const done = serve(engine, {
      host: '127.0.0.1',
      port: 0,
      kvMemory: BIG,
      maxQueue: 4,
      log: (l) => {
        lines.push(l);
        address = /on (http:\/\/\S+)\/v1/.exec(l)?.[1] ?? address;
      },
    });
    for (let i = 0; i < 200 && !address; i++) await new Promise((r) => setTimeout(r, 10));
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await (await fetch(`${address}/health`)).json()).status).toBe('ok');
    process.emit('SIGINT');
    await done;
    expect(lines.at(-1)).toMatch(/stopped/);
    await expect(fetch(`${address}/health`)).rejects.toThrow();
  });
});
