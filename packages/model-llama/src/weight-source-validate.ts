// Checks that a checkpoint holds every tensor a Llama config needs, with the right shape and a readable dtype,
// before any weight is loaded (so a wrong directory fails in milliseconds, not after gigabytes).
import { ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import { modelFilePath } from '#model-files';
import { checkImplementedRope } from './config-bounds.js';
import type { LlamaConfig } from './config.js';
import { FLOAT_DTYPES } from './safetensors-dtype.js';
import type { WeightSource } from './weight-source.js';
import { checkLayerCount, checkUnexplainedTensors } from './weight-coverage.js';

/** One tensor a Llama checkpoint must (or may) contain, in Hugging Face naming. */
export interface LlamaWeightSpec {
  name: string;
  shape: number[];
  /** True for lm_head.weight when the embeddings are tied (the embedding table is reused). */
  optional: boolean;
}

/** The tensors of a Hugging Face LlamaForCausalLM checkpoint for `cfg`, with their expected shapes. */
export function llamaWeightSpecs(cfg: LlamaConfig): LlamaWeightSpec[] {
  const { hiddenSize: hidden, intermediateSize: inter, nHeads, nKvHeads, headDim, vocabSize: vocab } = cfg;
  const spec = (name: string, shape: number[], optional = false): LlamaWeightSpec => ({ name, shape, optional });
  const out = [spec('model.embed_tokens.weight', [vocab, hidden])];
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      spec(`${p}.input_layernorm.weight`, [hidden]),
      spec(`${p}.self_attn.q_proj.weight`, [nHeads * headDim, hidden]),
      spec(`${p}.self_attn.k_proj.weight`, [nKvHeads * headDim, hidden]),
      spec(`${p}.self_attn.v_proj.weight`, [nKvHeads * headDim, hidden]),
      spec(`${p}.self_attn.o_proj.weight`, [hidden, nHeads * headDim]),
      spec(`${p}.post_attention_layernorm.weight`, [hidden]),
      spec(`${p}.mlp.gate_proj.weight`, [inter, hidden]),
      spec(`${p}.mlp.up_proj.weight`, [inter, hidden]),
      spec(`${p}.mlp.down_proj.weight`, [hidden, inter]),
    );
  }
  out.push(spec('model.norm.weight', [hidden]), spec('lm_head.weight', [vocab, hidden], cfg.tieWordEmbeddings));
  return out;
}

/**
 * Throws ModelFormatError for the first missing tensor or wrong shape, and UnsupportedModelError for a
 * tensor stored in a dtype readF32 cannot widen. lm_head.weight may be absent when embeddings are tied.
 */
export function validateLlamaWeights(src: WeightSource, cfg: LlamaConfig): void {
  const configFile = modelFilePath(src.dir, 'config.json');
  checkImplementedRope(cfg, configFile);
  // Before llamaWeightSpecs, whose list grows with num_hidden_layers.
  checkLayerCount(src, cfg, configFile);
  const specs = llamaWeightSpecs(cfg);
  for (const w of specs) {
    if (!src.has(w.name)) {
      if (w.optional) continue;
      const hint = w.name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings is false)' : '';
      throw new ModelFormatError(
        src.dir,
        w.name,
        `tensor is missing${hint}; the checkpoint does not match config.json (is it a LlamaForCausalLM checkpoint in Hugging Face naming?)`,
      );
    }
    const t = src.info(w.name);
    if (t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i])) {
      throw new ModelFormatError(
        t.file,
        w.name,
        `has shape [${t.shape.join(', ')}] but config.json implies [${w.shape.join(', ')}]; the weights and config.json do not belong together`,
      );
    }
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw new UnsupportedModelError(t.file, w.name, `dtype ${t.dtype} is not supported; weights must be ${FLOAT_DTYPES.join(', ')} (quantized checkpoints are not)`);
    }
  }
  checkUnexplainedTensors(src, new Set(specs.map((w) => w.name)), configFile);
}
