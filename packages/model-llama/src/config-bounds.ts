// Sane upper bounds on config.json sizes, checked before anything proportional to them is built: a config
// from a stranger saying num_hidden_layers 1e7 must fail in microseconds, not after gigabytes of allocation.
import { ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import type { LlamaConfig } from './config.js';

/**
 * Largest values accepted, each far above every published Llama-family model (largest known: vocab 256K,
 * hidden 16,384, intermediate 53,248, 126 layers, 128 heads, head_dim 256, 10M positions) yet small
 * enough that a spec list, RoPE table or per-layer array of that size is harmless.
 */
export const LLAMA_CONFIG_LIMITS = {
  vocabSize: 1 << 22,
  hiddenSize: 1 << 16,
  intermediateSize: 1 << 19,
  nLayers: 1024,
  nHeads: 1024,
  nKvHeads: 1024,
  headDim: 1024,
  maxPositionEmbeddings: 1 << 26,
} as const;

const FIELD: Record<keyof typeof LLAMA_CONFIG_LIMITS, string> = {
  vocabSize: 'vocab_size',
  hiddenSize: 'hidden_size',
  intermediateSize: 'intermediate_size',
  nLayers: 'num_hidden_layers',
  nHeads: 'num_attention_heads',
  nKvHeads: 'num_key_value_heads',
  headDim: 'head_dim',
  maxPositionEmbeddings: 'max_position_embeddings',
};

/**
 * RoPE bases outside this range give frequencies that overflow to Infinity (theta 1e-300 made every logit
 * NaN) or collapse to zero; published models use 1e4 to 5e7.
 */
export const ROPE_THETA_RANGE = [1, 1e12] as const;

/** Throws ModelFormatError for a size beyond LLAMA_CONFIG_LIMITS or a RoPE base/eps outside sane ranges. */
export function checkConfigBounds(cfg: LlamaConfig, file: string): void {
  for (const key of Object.keys(LLAMA_CONFIG_LIMITS) as (keyof typeof LLAMA_CONFIG_LIMITS)[]) {
    const limit = LLAMA_CONFIG_LIMITS[key];
    if (cfg[key] > limit) {
      throw new ModelFormatError(file, FIELD[key], `is ${cfg[key]}, above the limit ${limit} (far beyond any Llama model); the config is corrupt or not a Llama config`);
    }
  }
  const [lo, hi] = ROPE_THETA_RANGE;
  if (!(cfg.ropeTheta > lo && cfg.ropeTheta <= hi)) {
    throw new ModelFormatError(file, 'rope_theta', `is ${cfg.ropeTheta}; it must be in (${lo}, ${hi}] (outside it RoPE frequencies overflow or vanish and every logit becomes NaN)`);
  }
  if (!(cfg.rmsNormEps <= 1)) {
    throw new ModelFormatError(file, 'rms_norm_eps', `is ${cfg.rmsNormEps}; it must be in (0, 1] (published models use 1e-6 to 1e-5)`);
  }
  const s = cfg.ropeScaling;
  if (s && s.type !== 'default' && s.factor > 1024) {
    throw new ModelFormatError(file, 'rope_scaling.factor', `is ${s.factor}, above the limit 1024`);
  }
}

/**
 * Throws UnsupportedModelError for RoPE scaling the forward pass would not apply. `dynamic` (NTK) changes the
 * frequencies only past original_max_position_embeddings; the model runs with fixed frequencies, so dynamic
 * is exact only when that original length is at least the context the model accepts.
 */
export function checkImplementedRope(cfg: LlamaConfig, file: string, contextLimit = cfg.maxPositionEmbeddings): void {
  const s = cfg.ropeScaling;
  if (s?.type === 'dynamic' && s.originalMaxPositionEmbeddings < contextLimit) {
    throw new UnsupportedModelError(
      file,
      'rope_scaling.rope_type',
      `"dynamic" (NTK) scaling past original_max_position_embeddings (${s.originalMaxPositionEmbeddings}) up to ${contextLimit} positions is not implemented; remove rope_scaling or set max_position_embeddings to ${s.originalMaxPositionEmbeddings}`,
    );
  }
}
