// OpenAI request bodies: JSON schemas (checked by fastify before a handler runs) and their translation into
// an engine prompt plus GenerateOptions, the cache policy taken from the `cache` extension field.
import { InvalidOptionError } from '@shadowkv/core';
import type { ChatMessage } from '@shadowkv/model-llama';
import type { GenerateOptions, PromptInput } from '../engine.js';
import { createPolicy, parsePolicySpec } from '../policy-options.js';

/** Fields both endpoints take. Unknown fields are ignored (clients send defaults such as frequency_penalty). */
const common = {
  model: { type: 'string' },
  max_tokens: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] },
  max_completion_tokens: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] },
  temperature: { anyOf: [{ type: 'number', minimum: 0, maximum: 2 }, { type: 'null' }] },
  top_p: { anyOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 1 }, { type: 'null' }] },
  seed: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
  stop: {
    anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', maxItems: 4, items: { type: 'string', minLength: 1 } }, { type: 'null' }],
  },
  stream: { anyOf: [{ type: 'boolean' }, { type: 'null' }] },
  stream_options: {
    anyOf: [{ type: 'object', properties: { include_usage: { type: 'boolean' } } }, { type: 'null' }],
  },
  n: { anyOf: [{ type: 'integer', minimum: 1, maximum: 1 }, { type: 'null' }] },
  /** Extension: the KV cache policy of this request, `name[:key=value...]` (e.g. `shadowkv:budget=256`). */
  cache: { type: 'string', minLength: 1, maxLength: 256 },
  /**
   * Extension: prompt tokens per prefill chunk of this request (default: the server's --prefill-chunk-size); the
   * scheduler interleaves one chunk per step with the running sequences' decode steps. Past the server's
   * maximum it is a 400 naming it.
   */
  prefill_chunk_size: { type: 'integer', minimum: 1 },
  /** Extension (as llama.cpp's server): keep generating past EOS. */
  ignore_eos: { type: 'boolean' },
} as const;

const textPart = { type: 'object', required: ['type', 'text'], properties: { type: { const: 'text' }, text: { type: 'string' } } };

export const CHAT_BODY_SCHEMA = {
  type: 'object',
  required: ['messages'],
  properties: {
    ...common,
    messages: {
      type: 'array',
      minItems: 1,
      maxItems: 1024,
      items: {
        type: 'object',
        required: ['role', 'content'],
        properties: {
          role: { enum: ['system', 'developer', 'user', 'assistant'] },
          content: { anyOf: [{ type: 'string' }, { type: 'array', items: textPart }] },
        },
      },
    },
  },
} as const;

export const COMPLETION_BODY_SCHEMA = {
  type: 'object',
  required: ['prompt'],
  properties: {
    ...common,
    prompt: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } },
        { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string', minLength: 1 } },
      ],
    },
  },
} as const;

interface CommonBody {
  model?: string;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  cache?: string;
  prefill_chunk_size?: number;
  ignore_eos?: boolean;
}

export interface ChatBody extends CommonBody {
  messages: { role: string; content: string | { type: 'text'; text: string }[] }[];
}

export interface CompletionBody extends CommonBody {
  prompt: string | number[] | [string];
}

/** What a handler runs: the prompt, the engine options (no signal yet), and how to answer. */
export interface ParsedRequest {
  prompt: PromptInput;
  options: GenerateOptions;
  stream: boolean;
  includeUsage: boolean;
}

/** Default max_tokens when the client gives none (OpenAI's default is "up to the context"; a bound is safer). */
export const DEFAULT_MAX_TOKENS = 256;

/**
 * The engine options of a validated body. `cache` is parsed with the policies' own spec parser, so an unknown
 * policy or parameter is an InvalidOptionError naming it (answered 400, before anything runs).
 */
function commonOptions(b: CommonBody): Omit<ParsedRequest, 'prompt'> {
  const options: GenerateOptions = { maxNewTokens: b.max_completion_tokens ?? b.max_tokens ?? DEFAULT_MAX_TOKENS };
  if (b.temperature != null) options.temperature = b.temperature;
  if (b.top_p != null) options.topP = b.top_p;
  if (b.seed != null) options.seed = b.seed;
  if (b.stop != null) options.stop = b.stop;
  if (b.ignore_eos) options.ignoreEos = true;
  if (b.prefill_chunk_size !== undefined) options.prefillChunkSize = b.prefill_chunk_size;
  // Without `cache` the request runs under the server's --policy (the engine's default policy).
  if (b.cache !== undefined) {
    const spec = parsePolicySpec(b.cache);
    options.cache = createPolicy(spec.name, spec.options);
  }
  return { options, stream: b.stream === true, includeUsage: b.stream_options?.include_usage === true };
}

export function parseChatBody(b: ChatBody): ParsedRequest {
  const messages: ChatMessage[] = b.messages.map((m) => ({
    // "developer" is OpenAI's newer name for the system role; chat templates know "system".
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  }));
  return { prompt: { messages }, ...commonOptions(b) };
}

export function parseCompletionBody(b: CompletionBody): ParsedRequest {
  const p = b.prompt;
  let prompt: PromptInput;
  if (typeof p === 'string') prompt = p;
  else if (typeof p[0] === 'number') prompt = { inputIds: p as number[] };
  else if (typeof p[0] === 'string') prompt = p[0];
  else throw new InvalidOptionError('prompt', 'must be a string, a list of token ids, or a list of one string');
  return { prompt, ...commonOptions(b) };
}
