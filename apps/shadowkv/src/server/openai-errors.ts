// Maps every failure of an HTTP request to a status and the OpenAI error body { error: { message, type, param, code } }.
import { ContextLengthError, GenerationAbortedError, InvalidOptionError, ShadowKvError, UnsupportedModelError } from '@shadowkv/core';
import { KvBudgetExceededError, QueueFullError, SchedulerClosedError } from '../scheduler/scheduler-errors.js';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface HttpError {
  status: number;
  body: OpenAiErrorBody;
}

const body = (message: string, type: string, param: string | null, code: string | null): OpenAiErrorBody => ({ error: { message, type, param, code } });

/** Fastify's own request errors (body parsing, limits, schema validation) by their stable codes. */
const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'request_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_content_length' },
};

/**
 * The HTTP answer for `err`. Request errors (bad JSON, schema, options, context, policy) are 4xx and name the
 * field in `param`; a full queue or a closing server is 503 (retry later, as llama.cpp's server answers when busy).
 */
export function httpErrorOf(err: unknown): HttpError {
  const e = err as { code?: unknown; statusCode?: unknown; validation?: { instancePath?: string; params?: Record<string, unknown> }[]; message?: string };
  if (Array.isArray(e?.validation)) {
    const v = e.validation[0] ?? {};
    const missing = typeof v.params?.missingProperty === 'string' ? `/${v.params.missingProperty}` : '';
    const param = `${v.instancePath ?? ''}${missing}`.replace(/^\//, '').replace(/\//g, '.') || null;
    return { status: 400, body: body(`invalid request body: ${e.message}`, 'invalid_request_error', param, 'invalid_type') };
  }
  if (typeof e?.code === 'string' && FASTIFY_CODES[e.code]) {
    const { status, code } = FASTIFY_CODES[e.code];
    return { status, body: body(String(e.message), 'invalid_request_error', null, code) };
  }
  if (err instanceof QueueFullError) return { status: 503, body: body(err.message, 'server_error', null, 'queue_full') };
  if (err instanceof SchedulerClosedError) return { status: 503, body: body(err.message, 'server_error', null, 'shutting_down') };
  if (err instanceof KvBudgetExceededError) return { status: 400, body: body(err.message, 'invalid_request_error', 'max_tokens', 'kv_budget_exceeded') };
  if (err instanceof ContextLengthError) return { status: 400, body: body(err.message, 'invalid_request_error', 'messages', 'context_length_exceeded') };
  if (err instanceof InvalidOptionError) return { status: 400, body: body(err.message, 'invalid_request_error', OPTION_PARAMS[err.option] ?? err.option, 'invalid_value') };
  if (err instanceof UnsupportedModelError) return { status: 400, body: body(err.message, 'invalid_request_error', null, 'unsupported') };
  if (err instanceof GenerationAbortedError) return { status: 499, body: body(err.message, 'invalid_request_error', null, 'aborted') };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: body(String(e.message), 'invalid_request_error', null, typeof e.code === 'string' ? e.code : null) };
  }
  const code = err instanceof ShadowKvError ? err.code.toLowerCase() : 'internal_error';
  return { status: 500, body: body(`internal error: ${(err as Error)?.message ?? String(err)}`, 'server_error', null, code) };
}

/** The request field each engine option comes from, so `param` names what the client sent. */
const OPTION_PARAMS: Record<string, string> = {
  maxNewTokens: 'max_tokens',
  topP: 'top_p',
  prefillChunkSize: 'prefill_chunk_size',
  policy: 'cache',
  inputIds: 'prompt',
  prompt: 'prompt',
  messages: 'messages',
};
