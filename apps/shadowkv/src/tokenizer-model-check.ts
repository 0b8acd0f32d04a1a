// A tokenizer whose ids run past the model's embedding table would fail only mid-generation (after the whole
// prefill) or read out of bounds in a kernel: checked once, when the engine is created.
import { ModelFormatError } from '@shadowkv/core';
import type { LlamaModel, LlamaTokenizer } from '@shadowkv/model-llama';

/** Throws ModelFormatError when the tokenizer can produce ids the model has no embedding row for. */
export function checkTokenizerFitsModel(tokenizer: LlamaTokenizer, model: LlamaModel): void {
  const vocab = model.config.vocabSize;
  // Tokenizers may be smaller than the embedding (padded tables); larger is what breaks.
  if (tokenizer.vocabSize > vocab) {
    throw new ModelFormatError(
      `${model.dir}/tokenizer.json`,
      'model.vocab',
      `has token ids up to ${tokenizer.vocabSize - 1} but the model's embedding has ${vocab} rows (vocab_size in config.json); the tokenizer belongs to another model`,
    );
  }
  for (const [name, id] of [['bos', tokenizer.bosTokenId], ...tokenizer.eosTokenIds.map((e) => ['eos', e] as const)] as const) {
    if (id !== null && id >= vocab) {
      throw new ModelFormatError(`${model.dir}/tokenizer_config.json`, `${name}_token`, `is token id ${id}, outside the model's vocabulary (${vocab})`);
    }
  }
}
