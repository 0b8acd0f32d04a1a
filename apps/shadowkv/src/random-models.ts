// Seeded random Llama models in the Hugging Face layout, for demos and speed runs. Clearly not trained.
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError } from '@shadowkv/core';
import { writeRandomLlama } from '@shadowkv/model-llama';

/** Hugging Face config.json fields of the random presets. */
export const RANDOM_PRESETS: Record<string, Record<string, number | boolean>> = {
  /** Tiny model for `shadowkv demo`: runs in well under a second per token on a CPU. */
  tiny: {
    vocab_size: 512, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 8,
    num_key_value_heads: 2, head_dim: 32, max_position_embeddings: 8192, rope_theta: 10000,
  },
  /** Llama-3.2-1B shapes (vocabulary cut to 32768 so that weights fit comfortably; the decode path is unchanged). */
  'llama-3.2-1b': {
    vocab_size: 32768, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32,
    num_key_value_heads: 8, head_dim: 64, max_position_embeddings: 131072, rope_theta: 500000, tie_word_embeddings: true,
  },
};

export function demoTokenizerDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const cand of [join(here, '..', 'assets', 'demo-tokenizer'), join(here, '..', '..', 'assets', 'demo-tokenizer')]) {
    if (existsSync(join(cand, 'tokenizer.json'))) return cand;
  }
  throw new Error(`demo tokenizer assets not found next to ${here}`);
}

/** Writes (once) and returns the directory of a random preset model under the OS temp dir. */
export async function ensureRandomModel(preset: string, seed = 0): Promise<string> {
  const config = RANDOM_PRESETS[preset];
  if (!config) throw new InvalidOptionError('random', `unknown preset "${preset}"; use one of ${Object.keys(RANDOM_PRESETS).join(', ')}`);
  const dir = join(tmpdir(), `shadowkv-random-${preset}-seed${seed}`);
  if (!existsSync(join(dir, 'model.safetensors'))) {
    process.stderr.write(`writing a seeded random model (${preset}, seed ${seed}; random weights, not trained) to ${dir}\n`);
    // Written beside and renamed into place, so an interrupted run never leaves a half-written model.
    const partial = `${dir}.partial-${process.pid}`;
    await writeRandomLlama(partial, { seed, config, tokenizerFrom: preset === 'tiny' ? demoTokenizerDir() : undefined });
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  }
  return dir;
}
