// Writes a seeded random Llama in the Hugging Face layout, for demos and tests that need a model on disk.
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidOptionError, mulberry32, ShadowKvError } from '@shadowkv/core';
import { parseLlamaConfig, type HfLlamaConfigJson } from './config.js';
import { writeSafetensors, type SafetensorsWriteTensor } from './safetensors-writer.js';
import { llamaWeightSpecs } from './weight-source-validate.js';

/** Options of writeRandomLlama. */
export interface RandomLlamaOptions {
  /** PRNG seed (default 0). The same seed and config give byte-identical files. */
  seed?: number;
  /** config.json keys to override (Hugging Face names); the rest default to a small GQA model. */
  config?: Partial<HfLlamaConfigJson> & Record<string, unknown>;
  /**
   * A directory whose tokenizer.json, tokenizer_config.json (and chat_template.jinja) are copied. Unless
   * `config` sets them, vocab_size and the BOS/EOS ids are then taken from that tokenizer.
   */
  tokenizerFrom?: string;
}

/** The default shape: small enough to write and run in well under a second on a CPU. */
const DEFAULT_CONFIG: Partial<HfLlamaConfigJson> & Record<string, unknown> = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 512,
  hidden_size: 128,
  intermediate_size: 344,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  rope_scaling: null,
  tie_word_embeddings: false,
  bos_token_id: 0,
  eos_token_id: 1,
  hidden_act: 'silu',
  attention_bias: false,
  mlp_bias: false,
  initializer_range: 0.02,
  torch_dtype: 'bfloat16',
};

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja'];

/**
 * Writes DIR/config.json and DIR/model.safetensors (BF16): linear and embedding weights drawn from
 * N(0, initializer_range²) (0.02 by default, as transformers initializes Llama), norm weights 1.
 * Each tensor has its own PRNG stream seeded from (seed, tensor name), so changing the layer count
 * does not reshuffle the other tensors.
 */
export async function writeRandomLlama(dir: string, opts: RandomLlamaOptions = {}): Promise<void> {
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new InvalidOptionError('seed', `must be an integer, got ${seed}`);
  const json: Record<string, unknown> = { ...DEFAULT_CONFIG };
  if (opts.tokenizerFrom !== undefined) Object.assign(json, await tokenizerDefaults(opts.tokenizerFrom));
  Object.assign(json, opts.config ?? {});
  json._shadowkv_note = 'random weights, for demos and tests';

  let cfg;
  try {
    cfg = parseLlamaConfig(json, 'config');
  } catch (err) {
    throw new InvalidOptionError('config', (err as ShadowKvError).message);
  }
  const std = typeof json.initializer_range === 'number' ? json.initializer_range : 0.02;

  const tensors: Record<string, SafetensorsWriteTensor> = {};
  for (const w of llamaWeightSpecs(cfg)) {
    if (w.optional) continue; // tied lm_head: the embedding table is reused
    const n = w.shape.reduce((a, d) => a * d, 1);
    const data = w.name.endsWith('norm.weight') ? new Float32Array(n).fill(1) : gaussian(n, std, mixSeed(seed, w.name));
    tensors[w.name] = { dtype: 'BF16', shape: w.shape, data };
  }

  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  if (opts.tokenizerFrom !== undefined) {
    for (const f of TOKENIZER_FILES) {
      if (await isFile(join(opts.tokenizerFrom, f))) await copyFile(join(opts.tokenizerFrom, f), join(dir, f));
    }
  }
}

/** vocab_size and BOS/EOS ids implied by a tokenizer directory. */
async function tokenizerDefaults(from: string): Promise<Record<string, unknown>> {
  const read = async (f: string): Promise<Record<string, unknown> | null> => {
    if (!(await isFile(join(from, f)))) return null;
    try {
      return JSON.parse(await readFile(join(from, f), 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new InvalidOptionError('tokenizerFrom', `${join(from, f)} is not valid JSON: ${(err as Error).message}`);
    }
  };
  const tok = await read('tokenizer.json');
  if (!tok) throw new InvalidOptionError('tokenizerFrom', `${from} has no tokenizer.json; point it at a Hugging Face model or tokenizer directory`);
  const ids = new Map<string, number>();
  const vocab = (tok.model as { vocab?: unknown } | undefined)?.vocab;
  // BPE vocabularies are objects {token: id}; unigram ones are lists of [token, score].
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) for (const [t, id] of Object.entries(vocab)) ids.set(t, id as number);
  else if (Array.isArray(vocab)) vocab.forEach((entry, i) => ids.set(String((entry as unknown[])[0]), i));
  for (const a of (tok.added_tokens ?? []) as { id: number; content: string }[]) ids.set(a.content, a.id);
  const out: Record<string, unknown> = { vocab_size: Math.max(...ids.values()) + 1 };
  const cfg = await read('tokenizer_config.json');
  for (const [key, field] of [['bos_token', 'bos_token_id'], ['eos_token', 'eos_token_id']] as const) {
    const v = cfg?.[key];
    const content = typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content;
    if (content !== undefined && ids.has(content)) out[field] = ids.get(content);
  }
  return out;
}

/** FNV-1a of the tensor name mixed with the seed: an independent stream per tensor. */
function mixSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** n draws from N(0, std²): mulberry32 uniforms through Box-Muller. */
function gaussian(n: number, std: number, seed: number): Float32Array {
  const uniform = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())) * std; // 1 - u in (0, 1]: log never sees 0
    const th = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
