// What the page runs: model and tokenizer URLs, the prompt (token ids or text) and the number of new
// tokens, read from the page's query string or its form, validated with messages that say what to fix.
import { InvalidOptionError } from '@shadowkv/core';

/** One generation request of the page. */
export interface PageOptions {
  /** Folder URL with config.json and model.safetensors (or a sharded index), relative to the page or absolute. */
  modelUrl: string;
  /** Folder URL with tokenizer.json (+ tokenizer_config.json), or null for none (prompts as ids, no text). */
  tokenizerUrl: string | null;
  /** Prompt token ids; when null, `prompt` is encoded with the tokenizer. */
  inputIds: number[] | null;
  prompt: string | null;
  maxNewTokens: number;
  /** Kernel backend: WebGPU (navigator.gpu) or WebAssembly SIMD on the CPU (threads when cross-origin isolated). */
  backend: PageBackend;
}

export type PageBackend = 'webgpu' | 'wasm';

/** Field names shared by the query string and the form. */
export const OPTION_FIELDS = ['model', 'tokenizer', 'ids', 'prompt', 'maxNewTokens', 'backend'] as const;

/** Reads options from name → value pairs (URLSearchParams or FormData). */
export function parsePageOptions(get: (name: (typeof OPTION_FIELDS)[number]) => string | null): PageOptions {
  const modelUrl = get('model')?.trim() || 'model/';
  const tokenizerUrl = get('tokenizer')?.trim() || null;
  const idsText = get('ids')?.trim() ?? '';
  const inputIds = idsText === '' ? null : idsText.split(/[\s,]+/).filter((s) => s !== '').map((s, i) => tokenId(s, i));
  const prompt = get('prompt') || null;
  if (inputIds === null && prompt === null) throw new InvalidOptionError('ids', 'give the prompt as token ids (e.g. 1, 15043) or as text with a tokenizer URL');
  if (inputIds === null && tokenizerUrl === null) throw new InvalidOptionError('tokenizer', 'a text prompt needs a tokenizer folder URL (with tokenizer.json); or give token ids');
  const n = Number(get('maxNewTokens') ?? 24);
  if (!Number.isInteger(n) || n < 1) throw new InvalidOptionError('maxNewTokens', `${get('maxNewTokens')} must be an integer >= 1`);
  const backend = get('backend')?.trim() || 'webgpu';
  if (backend !== 'webgpu' && backend !== 'wasm') throw new InvalidOptionError('backend', `"${backend}" is not a backend of this page; use webgpu or wasm`);
  return { modelUrl, tokenizerUrl, inputIds, prompt, maxNewTokens: n, backend };
}

function tokenId(s: string, i: number): number {
  const id = Number(s);
  if (!Number.isInteger(id) || id < 0) throw new InvalidOptionError('ids', `"${s}" (position ${i}) is not a token id; use comma-separated non-negative integers`);
  return id;
}
