// config.json parsing: real Llama 2/3/3.1/3.2 configs, the rope_parameters layout, and every rejection path.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLlamaConfig, parseLlamaConfig } from './config.js';

const FIXTURE_DIR = process.env.SHADOWKV_HF_LLAMA_DIR ?? fileURLToPath(new URL('../../../fixtures/hf-llama-gqa', import.meta.url));

// Field values as published in the config.json of each Hugging Face checkpoint (trimmed to what matters).
const LLAMA2_7B = {
  architectures: ['LlamaForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 11008,
  max_position_embeddings: 4096,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  tie_word_embeddings: false,
  torch_dtype: 'float16',
  vocab_size: 32000,
};
const LLAMA3_8B = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  bos_token_id: 128000,
  eos_token_id: 128001,
  hidden_act: 'silu',
  hidden_size: 4096,
  intermediate_size: 14336,
  max_position_embeddings: 8192,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 500000.0,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  vocab_size: 128256,
};
const LLAMA31_8B_INSTRUCT = {
  ...LLAMA3_8B,
  eos_token_id: [128001, 128008, 128009],
  max_position_embeddings: 131072,
  mlp_bias: false,
  rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
};
const LLAMA32_1B = {
  ...LLAMA31_8B_INSTRUCT,
  eos_token_id: 128001,
  head_dim: 64,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  rope_scaling: { factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  tie_word_embeddings: true,
};

describe('parseLlamaConfig', () => {
  it('reads Llama 2 7B (MHA, no rope_theta: transformers default 10000)', () => {
    const c = parseLlamaConfig(LLAMA2_7B, 'config.json');
    expect(c).toEqual({
      vocabSize: 32000,
      hiddenSize: 4096,
      intermediateSize: 11008,
      nLayers: 32,
      nHeads: 32,
      nKvHeads: 32,
      headDim: 128,
      maxPositionEmbeddings: 4096,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      ropeScaling: null,
      tieWordEmbeddings: false,
      bosTokenId: 1,
      eosTokenIds: [2],
      torchDtype: 'float16',
    });
  });

  it('reads Llama 3 8B (GQA 4:1, theta 500000)', () => {
    const c = parseLlamaConfig(LLAMA3_8B, 'config.json');
    expect([c.nHeads, c.nKvHeads, c.headDim, c.ropeTheta, c.ropeScaling]).toEqual([32, 8, 128, 500000, null]);
  });

  it('reads Llama 3.1 with llama3 rope scaling and a list of EOS ids', () => {
    const c = parseLlamaConfig(LLAMA31_8B_INSTRUCT, 'config.json');
    expect(c.ropeScaling).toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(c.eosTokenIds).toEqual([128001, 128008, 128009]);
    expect(c.maxPositionEmbeddings).toBe(131072);
  });

  it('reads Llama 3.2 1B (tied embeddings, explicit head_dim)', () => {
    const c = parseLlamaConfig(LLAMA32_1B, 'config.json');
    expect([c.tieWordEmbeddings, c.headDim, c.hiddenSize, c.nLayers]).toEqual([true, 64, 2048, 16]);
    expect(c.ropeScaling).toMatchObject({ type: 'llama3', factor: 32 });
  });

  it('takes head_dim from the config even when it differs from hidden/heads', () => {
    expect(parseLlamaConfig({ ...LLAMA3_8B, head_dim: 96 }, 'c.json').headDim).toBe(96);
  });

  it('reads the rope_parameters layout (theta inside it, rope_type llama3 and default)', () => {
    const { rope_scaling: _s, rope_theta: _t, ...rest } = LLAMA31_8B_INSTRUCT;
    const c = parseLlamaConfig(
      { ...rest, rope_parameters: { rope_type: 'llama3', rope_theta: 500000.0, factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 } },
      'config.json',
    );
    expect(c.ropeTheta).toBe(500000);
    expect(c.ropeScaling).toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    const d = parseLlamaConfig({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 250000 } }, 'config.json');
    expect([d.ropeTheta, d.ropeScaling]).toEqual([250000, { type: 'default' }]);
  });

  it('reads legacy {"type": ...} linear and dynamic scaling (dynamic defaults its original length to max_position_embeddings)', () => {
    expect(parseLlamaConfig({ ...LLAMA2_7B, rope_scaling: { type: 'linear', factor: 2.0 } }, 'c').ropeScaling).toEqual({ type: 'linear', factor: 2 });
    expect(parseLlamaConfig({ ...LLAMA2_7B, rope_scaling: { type: 'dynamic', factor: 4.0 } }, 'c').ropeScaling).toEqual({
      type: 'dynamic',
      factor: 4,
      originalMaxPositionEmbeddings: 4096,
    });
  });

  it('accepts model_type "llama" without architectures and defaults num_key_value_heads to num_attention_heads', () => {
    const { architectures: _a, num_key_value_heads: _k, ...rest } = LLAMA2_7B;
    expect(parseLlamaConfig(rest, 'c').nKvHeads).toBe(32);
  });
});

/** Asserts fn throws `type` with the file and field in the message, and returns the message. */
function rejects(fn: () => unknown, type: typeof ModelFormatError | typeof UnsupportedModelError, field: string, file = 'my/config.json'): string {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  const e = err as ModelFormatError;
  expect(e.file).toBe(file);
  expect(e.field).toBe(field);
  expect(e.message).toContain(file);
  expect(e.message).toContain(field);
  return e.message;
}

describe('parseLlamaConfig rejections', () => {
  const f = 'my/config.json';
  const parse = (json: unknown) => () => parseLlamaConfig(json, f);

  it('names each malformed field', () => {
    const { hidden_size: _h, ...noHidden } = LLAMA3_8B;
    expect(rejects(parse(noHidden), ModelFormatError, 'hidden_size')).toMatch(/missing/);
    expect(rejects(parse({ ...LLAMA3_8B, num_hidden_layers: 0 }), ModelFormatError, 'num_hidden_layers')).toMatch(/positive integer, got 0/);
    expect(rejects(parse({ ...LLAMA3_8B, vocab_size: 12.5 }), ModelFormatError, 'vocab_size')).toMatch(/12\.5/);
    expect(rejects(parse({ ...LLAMA3_8B, intermediate_size: '14336' }), ModelFormatError, 'intermediate_size')).toMatch(/"14336"/);
    expect(rejects(parse({ ...LLAMA3_8B, num_key_value_heads: 5 }), ModelFormatError, 'num_key_value_heads')).toMatch(/must divide num_attention_heads \(32\)/);
    expect(rejects(parse({ ...LLAMA3_8B, head_dim: 127 }), ModelFormatError, 'head_dim')).toMatch(/even/);
    expect(rejects(parse({ ...LLAMA3_8B, hidden_size: 4100 }), ModelFormatError, 'head_dim')).toMatch(/not divisible/);
    expect(rejects(parse({ ...LLAMA3_8B, rms_norm_eps: -1 }), ModelFormatError, 'rms_norm_eps')).toMatch(/positive number/);
    expect(rejects(parse({ ...LLAMA3_8B, eos_token_id: [128001, 'x'] }), ModelFormatError, 'eos_token_id')).toMatch(/token id/);
    expect(rejects(parse({ ...LLAMA3_8B, bos_token_id: 999999 }), ModelFormatError, 'bos_token_id')).toMatch(/outside the vocabulary/);
    expect(rejects(parse({ ...LLAMA3_8B, rope_scaling: 'llama3' }), ModelFormatError, 'rope_scaling')).toMatch(/object/);
    expect(rejects(parse({ ...LLAMA31_8B_INSTRUCT, rope_scaling: { rope_type: 'llama3', factor: 8 } }), ModelFormatError, 'rope_scaling.low_freq_factor')).toMatch(
      /missing/,
    );
    expect(rejects(parse({ ...LLAMA2_7B, rope_scaling: { type: 'linear', factor: 0.5 } }), ModelFormatError, 'rope_scaling.factor')).toMatch(/>= 1/);
    expect(
      rejects(parse({ ...LLAMA31_8B_INSTRUCT, rope_scaling: { ...LLAMA31_8B_INSTRUCT.rope_scaling, high_freq_factor: 1 } }), ModelFormatError, 'rope_scaling.high_freq_factor'),
    ).toMatch(/greater than low_freq_factor/);
    expect(rejects(parse({ ...LLAMA3_8B, rope_parameters: { rope_type: 'default', rope_theta: 0 } }), ModelFormatError, 'rope_parameters.rope_theta')).toMatch(/got 0/);
    expect(rejects(parse({ ...LLAMA3_8B, rope_scaling: { factor: 2 } }), ModelFormatError, 'rope_scaling.rope_type')).toMatch(/missing/);
    expect(() => parseLlamaConfig([1, 2], f)).toThrow(ModelFormatError);
  });

  it('rejects what it does not implement with UnsupportedModelError', () => {
    const mistral = { ...LLAMA3_8B, architectures: ['MistralForCausalLM'], model_type: 'mistral' };
    expect(rejects(parse(mistral), UnsupportedModelError, 'architectures')).toMatch(/MistralForCausalLM.*LlamaForCausalLM/);
    const { architectures: _a, ...noArch } = LLAMA3_8B;
    expect(rejects(parse({ ...noArch, model_type: 'gpt2' }), UnsupportedModelError, 'model_type')).toMatch(/"gpt2"/);
    expect(rejects(parse({ ...LLAMA3_8B, hidden_act: 'gelu' }), UnsupportedModelError, 'hidden_act')).toMatch(/"gelu"/);
    expect(rejects(parse({ ...LLAMA3_8B, attention_bias: true }), UnsupportedModelError, 'attention_bias')).toMatch(/bias/);
    expect(rejects(parse({ ...LLAMA3_8B, rope_scaling: { rope_type: 'yarn', factor: 4 } }), UnsupportedModelError, 'rope_scaling.rope_type')).toMatch(
      /"yarn".*llama3/,
    );
    expect(
      rejects(parse({ ...LLAMA3_8B, rope_parameters: { full_attention: { rope_type: 'default' } } }), UnsupportedModelError, 'rope_parameters'),
    ).toMatch(/per-layer-type/);
  });
});

describe('loadLlamaConfig', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'skv-config-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('loads the fixture config', async () => {
    const c = await loadLlamaConfig(FIXTURE_DIR);
    expect(c.nHeads % c.nKvHeads).toBe(0);
    expect(c.headDim % 2).toBe(0);
    if (!process.env.SHADOWKV_HF_LLAMA_DIR) {
      expect(c).toMatchObject({ vocabSize: 512, hiddenSize: 256, nLayers: 4, nHeads: 8, nKvHeads: 2, headDim: 32, bosTokenId: 0, eosTokenIds: [1], torchDtype: 'bfloat16' });
    }
  });

  it('reports bad JSON with the parse error and the file', async () => {
    await writeFile(join(tmp, 'config.json'), '{"hidden_size": 4096,');
    const err = await loadLlamaConfig(tmp).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as Error).message).toContain(join(tmp, 'config.json'));
    expect((err as Error).message).toMatch(/not valid JSON: .*JSON/);
  });

  it('reports a missing config.json', async () => {
    const err = await loadLlamaConfig(join(tmp, 'nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as Error).message).toMatch(/nope.config\.json: cannot be read/);
  });
});
