// Checks that a checkpoint and its config describe the same model in both directions: the file has at least
// the layers the config names (checked from tensor names before any per-layer list is built), and the config
// explains every tensor of the file (a config with fewer layers than the file would otherwise silently run a
// truncated model).
import { ModelFormatError } from '@shadowkv/core';
import type { LlamaConfig } from './config.js';
import type { WeightSource } from './weight-source.js';

const LAYER = /^model\.layers\.(\d+)\./;
/** Tensors a checkpoint may carry that no forward pass reads: RoPE frequency buffers of older conversions. */
const IGNORABLE = /(^|\.)rotary_emb\.inv_freq$/;

/** Throws ModelFormatError when config.json names more layers than the checkpoint holds (O(tensors), no allocation per layer). */
export function checkLayerCount(src: WeightSource, cfg: LlamaConfig, configFile: string): void {
  const layers = new Set<number>();
  for (const name of src.names()) {
    const m = LAYER.exec(name);
    if (m) layers.add(Number(m[1]));
  }
  if (cfg.nLayers > layers.size) {
    throw new ModelFormatError(
      configFile,
      'num_hidden_layers',
      `is ${cfg.nLayers} but the checkpoint in ${src.dir} holds tensors of ${layers.size} layers; the config and weights do not belong together`,
    );
  }
}

/**
 * Throws ModelFormatError naming the first tensors config.json does not explain (e.g. layers past
 * num_hidden_layers). An error rather than a warning: running a prefix of a model gives fluent-looking
 * garbage that nobody would trace back to the config.
 */
export function checkUnexplainedTensors(src: WeightSource, expected: ReadonlySet<string>, configFile: string): void {
  const extra = src.names().filter((n) => !expected.has(n) && !IGNORABLE.test(n));
  if (extra.length === 0) return;
  const shown = extra.slice(0, 3).map((n) => `"${n.length > 80 ? `${n.slice(0, 77)}...` : n}"`).join(', ');
  throw new ModelFormatError(
    configFile,
    undefined,
    `does not explain ${extra.length} tensor(s) of the checkpoint in ${src.dir} (${shown}${extra.length > 3 ? ', ...' : ''}); num_hidden_layers or another size is wrong, or the checkpoint is not a plain LlamaForCausalLM`,
  );
}
