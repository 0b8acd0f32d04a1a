// Parses and validates a Hugging Face Llama config.json (Llama 2, 3, 3.1, 3.2) into a LlamaConfig.
// The file is read through #model-files (fs in Node, fetch in browsers); parsing touches no files.
import { modelFilePath, readModelText } from '#model-files';
import { ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import {
  isJsonObject,
  optionalBool,
  optionalString,
  optionalTokenId,
  positiveInt,
  positiveNumber,
  showJsonValue,
  tokenIdList,
} from './config-fields.js';
import { checkConfigBounds } from './config-bounds.js';
import { parseRopeSection, type RopeScaling } from './config-rope-scaling.js';

/** The model hyper-parameters the forward pass needs, normalized from config.json. */
export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Normalized from `rope_scaling` or the newer `rope_parameters` layout; null when neither sets a type. */
  ropeScaling: RopeScaling | null;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** `eos_token_id` as a list (Llama 3.1+ configs give several). */
  eosTokenIds: number[];
  torchDtype: string | null;
}

/** The config.json keys shadowkv reads (Hugging Face names); other keys are allowed and ignored. */
export interface HfLlamaConfigJson {
  architectures: string[];
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: Record<string, unknown> | null;
  rope_parameters: Record<string, unknown> | null;
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  torch_dtype: string | null;
  dtype: string | null;
  hidden_act: string;
  attention_bias: boolean;
  mlp_bias: boolean;
  initializer_range: number;
}

/**
 * Validates a parsed config.json. `file` is only used in error messages.
 * Throws ModelFormatError for malformed fields and UnsupportedModelError for valid configs of models
 * shadowkv does not run (other architectures, activations, biases, RoPE types).
 */
export function parseLlamaConfig(json: unknown, file: string): LlamaConfig {
  if (!isJsonObject(json)) throw new ModelFormatError(file, undefined, `must hold a JSON object, got ${showJsonValue(json)}`);
  checkArchitecture(json, file);

  const hiddenSize = positiveInt(json, file, 'hidden_size');
  const nHeads = positiveInt(json, file, 'num_attention_heads');
  // Transformers' defaults: no num_key_value_heads means multi-head attention.
  const nKvHeads = positiveInt(json, file, 'num_key_value_heads', nHeads);
  if (nHeads % nKvHeads !== 0) {
    throw new ModelFormatError(file, 'num_key_value_heads', `(${nKvHeads}) must divide num_attention_heads (${nHeads}) for grouped-query attention`);
  }
  if (json.head_dim === undefined || json.head_dim === null) {
    if (hiddenSize % nHeads !== 0) {
      throw new ModelFormatError(file, 'head_dim', `is missing and hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${nHeads}); add an explicit head_dim`);
    }
  }
  const headDim = positiveInt(json, file, 'head_dim', hiddenSize / nHeads);
  if (headDim % 2 !== 0) throw new ModelFormatError(file, 'head_dim', `must be even for rotary embeddings, got ${headDim}`);

  const act = optionalString(json, file, 'hidden_act') ?? 'silu';
  if (act !== 'silu') throw new UnsupportedModelError(file, 'hidden_act', `activation "${act}" is not supported; Llama models use "silu"`);
  for (const field of ['attention_bias', 'mlp_bias']) {
    if (optionalBool(json, file, field, false)) {
      throw new UnsupportedModelError(file, field, 'linear-layer biases are not implemented; only bias-free Llama checkpoints are supported');
    }
  }

  const maxPositionEmbeddings = positiveInt(json, file, 'max_position_embeddings', 2048);
  const { ropeTheta, ropeScaling } = parseRopeSection(json, file, maxPositionEmbeddings);
  const vocabSize = positiveInt(json, file, 'vocab_size');
  const bosTokenId = optionalTokenId(json, file, 'bos_token_id');
  const eosTokenIds = tokenIdList(json, file, 'eos_token_id');
  const outside = (field: string, id: number) =>
    new ModelFormatError(file, field, `token id ${id} is outside the vocabulary (vocab_size ${vocabSize})`);
  if (bosTokenId !== null && bosTokenId >= vocabSize) throw outside('bos_token_id', bosTokenId);
  for (const id of eosTokenIds) if (id >= vocabSize) throw outside('eos_token_id', id);

  const cfg: LlamaConfig = {
    vocabSize,
    hiddenSize,
    intermediateSize: positiveInt(json, file, 'intermediate_size'),
    nLayers: positiveInt(json, file, 'num_hidden_layers'),
    nHeads,
    nKvHeads,
    headDim,
    maxPositionEmbeddings,
    rmsNormEps: positiveNumber(json, file, 'rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling,
    tieWordEmbeddings: optionalBool(json, file, 'tie_word_embeddings', false),
    bosTokenId,
    eosTokenIds,
    // transformers v5 renamed torch_dtype to dtype.
    torchDtype: optionalString(json, file, 'torch_dtype') ?? optionalString(json, file, 'dtype'),
  };
  checkConfigBounds(cfg, file);
  return cfg;
}

function checkArchitecture(json: Record<string, unknown>, file: string): void {
  const archs = json.architectures;
  const modelType = json.model_type;
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || archs.some((a) => typeof a !== 'string')) {
      throw new ModelFormatError(file, 'architectures', `must be a list of strings, got ${showJsonValue(archs)}`);
    }
    if (archs.includes('LlamaForCausalLM')) return;
  }
  if (modelType === 'llama') return;
  const [field, got] = archs !== undefined && archs !== null ? ['architectures', archs] : ['model_type', modelType];
  throw new UnsupportedModelError(
    file,
    field,
    `got ${showJsonValue(got)}; only Llama models are supported (architectures containing "LlamaForCausalLM" or model_type "llama")`,
  );
}

/** Reads and validates DIR/config.json (DIR is a directory in Node, a URL in browsers). */
export async function loadLlamaConfig(dir: string): Promise<LlamaConfig> {
  const file = modelFilePath(dir, 'config.json');
  let text: string;
  try {
    text = await readModelText(file);
  } catch (err) {
    throw new ModelFormatError(file, undefined, `cannot be read (${(err as Error).message}); pass a Hugging Face model directory that contains config.json`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(file, undefined, `is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseLlamaConfig(json, file);
}
