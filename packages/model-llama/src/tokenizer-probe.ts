// Exercises a freshly built tokenizer once (encode with and without special tokens, decode, streaming
// decode of special ids) so that defects @huggingface/tokenizers reports only at first use surface at load,
// as typed errors naming the file and the stage, instead of as a raw TypeError mid-generation.
import { ContextLengthError, ModelFormatError, ShadowKvError } from '@shadowkv/core';
import type { LlamaTokenizer } from './tokenizer.js';

/** Which tokenizer.json components each stage runs, for messages. */
const STAGE_FIELDS = {
  encode: 'normalizer, pre_tokenizer, model or post_processor',
  decode: 'decoder',
} as const;

/** A typed error for a failure inside the tokenizer library; typed errors pass through unchanged. */
export function wrapTokenizerError(err: unknown, file: string, stage: keyof typeof STAGE_FIELDS): Error {
  if (err instanceof ShadowKvError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ModelFormatError(file, STAGE_FIELDS[stage], `the tokenizer fails to ${stage} (${msg.slice(0, 200)}); the file is malformed`, { cause: err });
}

/** Encodes and decodes a probe text; throws ModelFormatError (from wrapTokenizerError) on the first failure. */
export function probeTokenizer(t: LlamaTokenizer, file: string): void {
  const text = 'Hello, world! 123 \u00e9\u4e2d\n';
  const withSpecial = t.encode(text);
  const plain = t.encode(text, { addSpecialTokens: false });
  for (const ids of [withSpecial, plain]) {
    const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= t.vocabSize);
    if (bad >= 0) {
      throw new ModelFormatError(file, 'post_processor', `encoding a probe text gave token id ${String(ids[bad])}, outside the vocabulary [0, ${t.vocabSize}); the file is malformed`);
    }
  }
  t.decode(withSpecial);
  t.decode(withSpecial, { skipSpecialTokens: true });
  const specials = [t.bosTokenId, ...t.eosTokenIds].filter((id): id is number => id !== null);
  if (specials.length > 0) t.decode(specials);
}

/**
 * Refuses a text that cannot fit in `maxTokens` tokens without tokenizing it: no token covers more than
 * `maxTokenChars` characters, so a longer text has more than maxTokens tokens (a 10 MB prompt is refused in
 * microseconds instead of after tokenizing millions of tokens).
 */
export function checkTextFits(text: string, maxTokens: number | undefined, maxTokenChars: number | undefined): void {
  if (maxTokens === undefined || maxTokenChars === undefined) return;
  if (text.length > maxTokens * maxTokenChars) {
    throw new ContextLengthError(
      `the prompt text has ${text.length} characters; no token of this tokenizer is longer than ${maxTokenChars} characters, so it needs more than the ${maxTokens} tokens that fit the context; shorten it`,
    );
  }
}
