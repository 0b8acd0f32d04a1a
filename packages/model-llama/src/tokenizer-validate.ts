// Validates an untrusted tokenizer.json before @huggingface/tokenizers sees it: token ids bounded by the
// number of tokens (an id of 1e9 made the library build a billion-slot array), no null entries in
// component lists (the library fails on them only at first use, with a raw TypeError), bounded nesting.
import { ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import { showBounded } from './bounded-json.js';
import { LLAMA_CONFIG_LIMITS } from './config-bounds.js';

/** Nesting deeper than this in a component (normalizer, pre_tokenizer, ...) is refused: real files nest 3-4 deep. */
const MAX_COMPONENT_DEPTH = 32;
/** Largest id gap tolerated above the token count: vocabularies are dense, a few reserved holes at most. */
const ID_SLACK = 1024;
/** Component keys and the list-valued keys of their Sequence/TemplateProcessing forms. */
const COMPONENTS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;
const MODEL_TYPES = ['BPE', 'Unigram', 'WordPiece'];
const LIST_KEYS = new Set(['normalizers', 'pretokenizers', 'processors', 'decoders', 'single', 'pair']);

/** What the validation learned: one past the largest id, and the longest token string (for length pre-checks). */
export interface TokenizerJsonFacts {
  vocabSize: number;
  maxTokenChars: number;
}

/** Throws ModelFormatError naming the field for the first defect; returns facts used by the length checks. */
export function validateTokenizerJson(json: Record<string, unknown>, file: string): TokenizerJsonFacts {
  const model = json.model as Record<string, unknown>;
  // The library falls back to guessing the model from its fields for any unknown type (so "Bogus" or 5 loaded
  // as some model); Hugging Face's own files name one of these or none.
  if (model.type === 'WordLevel') {
    // A valid Hugging Face type that @huggingface/tokenizers does not implement (it would guess BPE instead).
    throw new UnsupportedModelError(file, 'model.type', 'WordLevel tokenizers are not supported; Llama tokenizers are BPE or Unigram');
  }
  if (model.type !== undefined && model.type !== null && !MODEL_TYPES.includes(model.type as string)) {
    throw new ModelFormatError(file, 'model.type', `must be one of ${MODEL_TYPES.join(', ')}, got ${showBounded(model.type, 40)}`);
  }
  const vocab = model.vocab;
  let count = 0;
  let maxId = -1;
  let maxTokenChars = 1;
  const checkId = (field: string, token: string, id: unknown) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= LLAMA_CONFIG_LIMITS.vocabSize) {
      throw new ModelFormatError(file, field, `token ${showBounded(token, 40)} has id ${showBounded(id, 40)}; ids must be integers in [0, ${LLAMA_CONFIG_LIMITS.vocabSize})`);
    }
    if (id > maxId) maxId = id;
  };
  if (Array.isArray(vocab)) {
    // Unigram: [token, score] pairs, ids implicit.
    vocab.forEach((entry, i) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        throw new ModelFormatError(file, `model.vocab[${i}]`, `must be a [token, score] pair, got ${showBounded(entry, 60)}`);
      }
      maxTokenChars = Math.max(maxTokenChars, entry[0].length);
    });
    count = vocab.length;
    maxId = vocab.length - 1;
    if (count > LLAMA_CONFIG_LIMITS.vocabSize) throw new ModelFormatError(file, 'model.vocab', `has ${count} entries, above the limit ${LLAMA_CONFIG_LIMITS.vocabSize}`);
  } else if (typeof vocab === 'object' && vocab !== null) {
    // Two tokens with one id make decoding ambiguous: real vocabularies are one-to-one.
    const seen = new Set<number>();
    for (const [token, id] of Object.entries(vocab)) {
      checkId('model.vocab', token, id);
      if (seen.has(id as number)) throw new ModelFormatError(file, 'model.vocab', `token ${showBounded(token, 40)} reuses id ${id as number}; every token needs its own id`);
      seen.add(id as number);
      maxTokenChars = Math.max(maxTokenChars, token.length);
      count++;
    }
  } else if (vocab !== undefined) {
    throw new ModelFormatError(file, 'model.vocab', `must be an object of token ids or a list of [token, score] pairs, got ${showBounded(vocab, 60)}`);
  }
  if (typeof vocab === 'object' && vocab !== null && !Array.isArray(vocab)) checkMerges(model, vocab as Record<string, unknown>, file);
  if (model.unk_token !== undefined && model.unk_token !== null && typeof model.unk_token !== 'string') {
    throw new ModelFormatError(file, 'model.unk_token', `must be a token string or null, got ${showBounded(model.unk_token, 60)}`);
  }
  const added = json.added_tokens;
  if (added !== undefined && added !== null) {
    if (!Array.isArray(added)) throw new ModelFormatError(file, 'added_tokens', `must be a list, got ${showBounded(added, 60)}`);
    added.forEach((t, i) => {
      const content = (t as { content?: unknown } | null)?.content;
      if (typeof content !== 'string') throw new ModelFormatError(file, `added_tokens[${i}]`, `must be an object with a string "content", got ${showBounded(t, 60)}`);
      checkId(`added_tokens[${i}].id`, content, (t as { id?: unknown }).id);
      for (const flag of ['special', 'lstrip', 'rstrip', 'normalized', 'single_word']) {
        const v = (t as Record<string, unknown>)[flag];
        if (v !== undefined && typeof v !== 'boolean') throw new ModelFormatError(file, `added_tokens[${i}].${flag}`, `must be true or false, got ${showBounded(v, 60)}`);
      }
      maxTokenChars = Math.max(maxTokenChars, content.length);
      count++;
    });
  }
  if (maxId + 1 > 2 * count + ID_SLACK) {
    throw new ModelFormatError(file, 'model.vocab', `the largest token id is ${maxId} but the file defines only ${count} tokens; the ids are corrupt`);
  }
  for (const key of COMPONENTS) checkComponent(json[key], file, key, 0);
  return { vocabSize: maxId + 1, maxTokenChars };
}

// A component is null/absent or an object with a string "type"; its list-valued keys hold components too.
function checkComponent(v: unknown, file: string, field: string, depth: number): void {
  if (v === undefined || v === null) {
    if (depth === 0) return;
    throw new ModelFormatError(file, field, 'is null; entries of a component list must be objects');
  }
  if (depth > MAX_COMPONENT_DEPTH) throw new ModelFormatError(file, field, `is nested deeper than ${MAX_COMPONENT_DEPTH} levels`);
  if (typeof v !== 'object' || Array.isArray(v)) throw new ModelFormatError(file, field, `must be an object, got ${showBounded(v, 60)}`);
  const obj = v as Record<string, unknown>;
  if (depth === 0 || field.match(/\.(normalizers|pretokenizers|processors|decoders)\[\d+\]$/)) {
    if (typeof obj.type !== 'string') throw new ModelFormatError(file, `${field}.type`, `must be a string, got ${showBounded(obj.type, 60)}`);
  }
  for (const [k, list] of Object.entries(obj)) {
    if (!LIST_KEYS.has(k)) continue;
    if (!Array.isArray(list)) throw new ModelFormatError(file, `${field}.${k}`, `must be a list, got ${showBounded(list, 60)}`);
    list.forEach((entry, i) => checkComponent(entry, file, `${field}.${k}[${i}]`, depth + 1));
  }
}

/**
 * BPE merges are "a b" strings or [a, b] pairs whose parts and result are tokens of the vocabulary (the Rust
 * library refuses others; the JS one silently skips them, changing tokenization without a word).
 */
function checkMerges(model: Record<string, unknown>, vocab: Record<string, unknown>, file: string): void {
  const merges = model.merges;
  if (merges === undefined || merges === null) return;
  if (!Array.isArray(merges)) throw new ModelFormatError(file, 'model.merges', `must be a list, got ${showBounded(merges, 60)}`);
  const prefix = typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '';
  const has = (t: string) => Object.prototype.hasOwnProperty.call(vocab, t);
  merges.forEach((m, i) => {
    let pair: unknown[] | null = null;
    if (typeof m === 'string') {
      const at = m.indexOf(' ', 1);
      pair = at > 0 ? [m.slice(0, at), m.slice(at + 1)] : null;
    } else if (Array.isArray(m) && m.length === 2) pair = m;
    if (!pair || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new ModelFormatError(file, `model.merges[${i}]`, `must be "a b" or ["a", "b"], got ${showBounded(m, 60)}`);
    }
    const [a, b] = pair as [string, string];
    const merged = a + (prefix && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    for (const t of [a, b, merged]) {
      if (!has(t)) throw new ModelFormatError(file, `model.merges[${i}]`, `uses ${showBounded(t, 40)}, which is not a token of model.vocab`);
    }
  });
}
