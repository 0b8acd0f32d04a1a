// Resolves a config's RoPE base and scaling into per-pair inverse frequencies (the RopeSpec every backend takes).
import type { RopeSpec } from '@shadowkv/core';
import { InvalidOptionError } from '@shadowkv/core';
import type { LlamaConfig } from './config.js';

/** Options of ropeSpecFromConfig. */
export interface RopeSpecOptions {
  /**
   * Sequence length the spec is for. Only `dynamic` scaling uses it: past the original context it
   * raises the base (dynamic NTK). Default: at most the original context, i.e. unscaled frequencies.
   */
  seqLen?: number;
}

/**
 * RoPE inverse frequencies for `cfg`, following the definitions in Hugging Face transformers
 * (default, linear, dynamic NTK, and Llama 3.1's `llama3` band-wise scaling). Computed in float64,
 * stored as float32. None of these types changes the attention scaling, so it is 1.
 */
export function ropeSpecFromConfig(cfg: LlamaConfig, opts: RopeSpecOptions = {}): RopeSpec {
  const { headDim } = cfg;
  const half = headDim / 2;
  const scaling = cfg.ropeScaling ?? { type: 'default' as const };
  let base = cfg.ropeTheta;
  if (scaling.type === 'dynamic' && opts.seqLen !== undefined) {
    if (!Number.isInteger(opts.seqLen) || opts.seqLen <= 0) {
      throw new InvalidOptionError('seqLen', `must be a positive integer, got ${opts.seqLen}`);
    }
    const orig = scaling.originalMaxPositionEmbeddings;
    if (opts.seqLen > orig) {
      base *= ((scaling.factor * opts.seqLen) / orig - (scaling.factor - 1)) ** (headDim / (headDim - 2));
    }
  }
  const invFreq = new Float32Array(half); // [headDim/2]
  for (let i = 0; i < half; i++) {
    const f = 1 / base ** ((2 * i) / headDim);
    invFreq[i] = scaleFrequency(f, scaling);
  }
  return { headDim, invFreq, attentionScaling: 1 };
}

function scaleFrequency(f: number, s: NonNullable<LlamaConfig['ropeScaling']>): number {
  switch (s.type) {
    case 'default':
    case 'dynamic':
      return f;
    case 'linear':
      // Position interpolation: positions divided by factor, i.e. frequencies divided by it.
      return f / s.factor;
    case 'llama3': {
      // Long wavelengths (low frequencies) are interpolated, short ones kept, the band between blended.
      const wavelen = (2 * Math.PI) / f;
      const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      if (wavelen > lowFreqWavelen) return f / s.factor;
      if (wavelen < highFreqWavelen) return f;
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      return ((1 - smooth) * f) / s.factor + smooth * f;
    }
  }
}
