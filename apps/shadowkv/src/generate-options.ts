// Up-front validation of generate() inputs from untrusted callers (an HTTP body, a config file): every option
// and the prompt are checked before any tokenization or compute, each failure an InvalidOptionError naming it.
import { InvalidOptionError } from '@shadowkv/core';
import type { GenerateOptions, PromptInput } from './engine.js';

const MESSAGE_LIMIT = 8;

function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/**
 * Checks every option of generate() and returns them with `stop` normalized to a list: a string is ONE stop
 * string (`stop: "abc"` stops at "abc", not at "a", "b" or "c"). Unknown keys are ignored (the one-call
 * helpers mix engine and generation options in one object).
 */
export function validateGenerateOptions<T extends GenerateOptions>(opts: T | undefined | null): T & { stop: string[] } {
  if (opts === undefined) opts = {} as T;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new InvalidOptionError('options', `must be an object, got ${show(opts)}`);
  const o = opts as GenerateOptions & Record<string, unknown>;
  const int = (name: keyof GenerateOptions, min: number) => {
    const v = o[name];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= min)) {
      throw new InvalidOptionError(name, `must be an integer >= ${min}, got ${show(v)}`);
    }
  };
  const bool = (name: keyof GenerateOptions) => {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') throw new InvalidOptionError(name, `must be true or false, got ${show(o[name])}`);
  };
  const fn = (name: keyof GenerateOptions) => {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw new InvalidOptionError(name, `must be a function, got ${show(o[name])}`);
  };
  int('maxNewTokens', 1);
  int('prefillChunkSize', 1);
  int('topK', 0);
  bool('ignoreEos');
  bool('chat');
  fn('onPrefillProgress');
  const num = (name: 'temperature' | 'topP', ok: (x: number) => boolean, want: string) => {
    const v = o[name];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && ok(v))) throw new InvalidOptionError(name, `must be ${want}, got ${show(v)}`);
  };
  num('temperature', (t) => t >= 0, 'a finite number >= 0 (0 = greedy)');
  num('topP', (p) => p > 0 && p <= 1, 'a number in (0, 1] (1 = off)');
  if (o.seed !== undefined && !(typeof o.seed === 'number' && Number.isSafeInteger(o.seed))) {
    throw new InvalidOptionError('seed', `must be an integer, got ${show(o.seed)}`);
  }
  const signal = o.signal as unknown;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof (signal as AbortSignal).aborted === 'boolean' && typeof (signal as AbortSignal).addEventListener === 'function')) {
    throw new InvalidOptionError('signal', `must be an AbortSignal, got ${show(signal)}`);
  }
  const cache = o.cache as unknown;
  if (cache !== undefined) {
    const c = cache as Record<string, unknown> | null;
    if (typeof c !== 'object' || c === null || typeof c.name !== 'string' || typeof c.validate !== 'function' || typeof c.create !== 'function') {
      throw new InvalidOptionError('cache', `must be a cache policy (dense(), shadowkv(...), kcache(...)), got ${show(cache)}`);
    }
  }
  const stop = o.stop as unknown;
  let stops: string[] = [];
  if (typeof stop === 'string') stops = [stop];
  else if (Array.isArray(stop)) stops = stop as string[];
  else if (stop !== undefined) throw new InvalidOptionError('stop', `must be a string or a list of strings, got ${show(stop)}`);
  stops.forEach((s, i) => {
    if (typeof s !== 'string' || s.length === 0) throw new InvalidOptionError('stop', `entry ${i} must be a non-empty string, got ${show(s)}`);
  });
  return { ...(opts as T), stop: stops };
}

/** Checks the shape of a prompt: a string, { inputIds: integer[] } or { messages: {role, content}[] }. */
export function validatePromptInput(prompt: unknown): asserts prompt is PromptInput {
  if (typeof prompt === 'string') return;
  if (typeof prompt !== 'object' || prompt === null || Array.isArray(prompt)) {
    throw new InvalidOptionError('prompt', `must be a string, { inputIds } or { messages }, got ${show(prompt)}`);
  }
  const p = prompt as Record<string, unknown>;
  if ('inputIds' in p) {
    const ids = p.inputIds;
    if (!Array.isArray(ids)) throw new InvalidOptionError('inputIds', `must be an array of token ids, got ${show(ids)}`);
    const bad = ids.findIndex((id) => typeof id !== 'number' || !Number.isInteger(id) || id < 0);
    if (bad >= 0) throw new InvalidOptionError('inputIds', `entry ${bad} is ${show(ids[bad])}, not a non-negative integer token id`);
    return;
  }
  if ('messages' in p) {
    const msgs = p.messages;
    if (!Array.isArray(msgs) || msgs.length === 0) throw new InvalidOptionError('messages', `must be a non-empty list of { role, content }, got ${show(msgs)}`);
    const bad = msgs.findIndex((m) => typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string');
    if (bad >= 0) throw new InvalidOptionError('messages', `entry ${bad} must be { role: string, content: string }, got ${show(msgs[bad])}`);
    return;
  }
  const keys = Object.keys(p).slice(0, MESSAGE_LIMIT).join(', ');
  throw new InvalidOptionError('prompt', `an object prompt needs inputIds or messages, got keys {${keys}}`);
}
