// The OpenAI-compatible HTTP server (fastify): /v1/chat/completions, /v1/completions (SSE streaming or not),
// /v1/models, /health, /metrics, in front of a GenerationService (the engine's batch scheduler).
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { GenerationAbortedError } from '@shadowkv/core';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Engine, FinishReason, GenerateChunk, GenerateOptions, GenerateResult, PromptInput } from '../engine.js';
import type { GenerationStream } from '../generation-stream.js';
import type { SchedulerStats } from '../scheduler/batch-scheduler.js';
import { httpErrorOf } from './openai-errors.js';
import { CHAT_BODY_SCHEMA, COMPLETION_BODY_SCHEMA, parseChatBody, parseCompletionBody, type ChatBody, type CompletionBody, type ParsedRequest } from './openai-request.js';
import { ServerMetrics } from './server-metrics.js';

/**
 * What the server runs generations on: `engine.scheduler(...)` (continuous batching) fits it as it is. `submit`
 * validates synchronously and throws typed errors (bad option, full queue) before anything runs.
 */
export interface GenerationService {
  submit(prompt: PromptInput, options: GenerateOptions): GenerationStream;
  stats(): SchedulerStats;
  /** Refuses new requests; resolves when the running ones have finished. */
  close(): Promise<void>;
}

export interface OpenAiServerOptions {
  engine: Engine;
  service: GenerationService;
  /** The id /v1/models lists and responses carry (default: the model folder's name). */
  modelId?: string;
  /** Largest request body in bytes (default 4 MiB); larger is answered 413. */
  bodyLimit?: number;
  /** Fastify's logger (default off). */
  logger?: boolean;
}

const FINISH: Record<FinishReason, 'stop' | 'length'> = { eos: 'stop', stop: 'stop', length: 'length' };

type Kind = 'chat' | 'completion';

/**
 * Builds the server (not listening yet: call `listen({ host, port })`). `close()` stops accepting connections,
 * answers 503 to requests arriving meanwhile, waits for running generations to end, then closes the service.
 */
export function createOpenAiServer(opts: OpenAiServerOptions): FastifyInstance {
  const { engine, service } = opts;
  const modelId = opts.modelId ?? basename(engine.model.dir);
  const created = Math.floor(Date.now() / 1000);
  const metrics = new ServerMetrics(() => service.stats());
  // Generation requests whose outcome the handler recorded; the error handler records the others as rejected.
  const counted = new WeakSet<FastifyRequest>();
  const GENERATION_ROUTES = new Set(['/v1/chat/completions', '/v1/completions']);
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 4 * 2 ** 20,
    // A wrong type is a 400, never coerced ("5" stays a string); unknown fields stay and are ignored.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    return503OnClosing: true,
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = httpErrorOf(err);
    if (status >= 500) app.log.error(err);
    // Bad bodies (schema, JSON, size) fail before the handler runs: they, too, are refused generation requests.
    if (GENERATION_ROUTES.has(req.routeOptions.url ?? '') && !counted.has(req)) metrics.outcome(status >= 500 && status !== 503 ? 'error' : 'rejected');
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { message: `no route ${req.method} ${req.url}; see /v1/models, /v1/chat/completions, /v1/completions`, type: 'invalid_request_error', param: null, code: 'not_found' } });
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.request(req.routeOptions.url ?? 'unknown', reply.statusCode);
  });
  app.addHook('onClose', async () => {
    await service.close();
  });

  app.get('/health', async () => ({ status: 'ok', model: modelId, ...service.stats() }));
  app.get('/metrics', async (_req, reply) => {
    const { text, contentType } = await metrics.render();
    void reply.type(contentType);
    return text;
  });
  app.get('/v1/models', async () => ({ object: 'list', data: [{ id: modelId, object: 'model', created, owned_by: 'shadowkv' }] }));

  const handle = (kind: Kind) => async (req: FastifyRequest, reply: FastifyReply) => {
    const parsed = kind === 'chat' ? parseChatBody(req.body as ChatBody) : parseCompletionBody(req.body as CompletionBody);
    const ac = new AbortController();
    const arrived = performance.now();
    // Everything about the request is checked here, synchronously: a bad one throws before any compute (4xx).
    const stream = service.submit(parsed.prompt, { ...parsed.options, chat: false, signal: ac.signal });
    counted.add(req);
    // A client that goes away (socket closed before the answer ended) cancels its generation.
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) ac.abort();
    });
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    let last = arrived;
    const onChunk = (c: GenerateChunk) => {
      if (c.tokenId < 0) return;
      const now = performance.now();
      if (c.index === 0) metrics.firstToken((now - arrived) / 1000);
      else metrics.interToken((now - last) / 1000);
      last = now;
      metrics.token(now);
    };
    if (parsed.stream) return streamAnswer(kind, id, parsed, stream, reply, onChunk, metrics);
    let text = '';
    let r: GenerateResult;
    try {
      for await (const c of stream) {
        onChunk(c);
        text += c.text;
      }
      r = await stream.result;
    } catch (err) {
      metrics.outcome(outcomeOf(err));
      throw err;
    }
    metrics.outcome(r.finishReason, r.promptTokens);
    const choice = kind === 'chat' ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: FINISH[r.finishReason] } : { index: 0, text, logprobs: null, finish_reason: FINISH[r.finishReason] };
    return {
      id,
      object: kind === 'chat' ? 'chat.completion' : 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: modelId,
      choices: [choice],
      usage: usageOf(r),
      shadowkv: extension(r),
    };
  };

  /** Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`. */
  async function streamAnswer(kind: Kind, id: string, parsed: ParsedRequest, stream: GenerationStream, reply: FastifyReply, onChunk: (c: GenerateChunk) => void, m: ServerMetrics) {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const base = { id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: Math.floor(Date.now() / 1000), model: modelId };
    const send = (data: unknown) => {
      if (!res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const piece = (text: string, finish: string | null, role = false) =>
      kind === 'chat'
        ? { ...base, choices: [{ index: 0, delta: role ? { role: 'assistant', content: text } : finish ? {} : { content: text }, logprobs: null, finish_reason: finish }] }
        : { ...base, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] };
    try {
      if (kind === 'chat') send(piece('', null, true));
      for await (const c of stream) {
        onChunk(c);
        if (c.text) send(piece(c.text, null));
      }
      const r = await stream.result;
      m.outcome(r.finishReason, r.promptTokens);
      send(piece('', FINISH[r.finishReason]));
      if (parsed.includeUsage) send({ ...base, choices: [], usage: usageOf(r), shadowkv: extension(r) });
      if (!res.destroyed) res.write('data: [DONE]\n\n');
    } catch (err) {
      m.outcome(outcomeOf(err));
      // After the 200 header an error can only travel in the stream: one OpenAI error event, then the end.
      if (!res.destroyed) send(httpErrorOf(err).body);
    } finally {
      if (!res.destroyed) res.end();
      m.request(kind === 'chat' ? '/v1/chat/completions' : '/v1/completions', 200);
    }
  }

  app.post('/v1/chat/completions', { schema: { body: CHAT_BODY_SCHEMA } }, handle('chat'));
  app.post('/v1/completions', { schema: { body: COMPLETION_BODY_SCHEMA } }, handle('completion'));
  return app;
}

/** A generation that failed after it was accepted: cancelled (client gone, shutdown) or a server error. */
function outcomeOf(err: unknown): 'cancelled' | 'error' {
  return err instanceof GenerationAbortedError ? 'cancelled' : 'error';
}

function usageOf(r: GenerateResult) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.tokens.length, total_tokens: r.promptTokens + r.tokens.length };
}

/** Extension block of a response: the policy that ran and the timings (OpenAI clients ignore unknown fields). */
function extension(r: GenerateResult) {
  return {
    policy: r.policy,
    time_to_first_token_ms: r.timeToFirstTokenMs,
    prefill_tokens_per_second: r.prefillTokensPerSecond,
    decode_tokens_per_second: r.decodeTokensPerSecond,
    kv_fast_bytes: r.memory.fastBytes,
    kv_slow_bytes: r.memory.slowBytes,
  };
}
