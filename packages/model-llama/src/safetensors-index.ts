// The weight map of a sharded checkpoint (model.safetensors.index.json): validation of the index and of the
// shards against it, shared by the file and HTTP weight sources.
import { ModelFormatError } from '@shadowkv/core';
import { showBounded } from './bounded-json.js';
import type { TensorInfo } from './weight-source.js';

/** Name of a single-file checkpoint inside a model directory. */
export const SAFETENSORS_SINGLE_FILE = 'model.safetensors';
/** Name of the index of a sharded checkpoint inside a model directory. */
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

/**
 * Validates the parsed JSON of an index file and returns tensor name → shard file name. Shards must be
 * plain `.safetensors` file names: anything with a path separator would read outside the model directory.
 */
export function parseWeightMap(json: unknown, indexFile: string): Map<string, string> {
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new ModelFormatError(indexFile, 'weight_map', 'is missing or not an object mapping tensor names to shard files');
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || !shard.endsWith('.safetensors')) {
      throw new ModelFormatError(indexFile, 'weight_map', `entry "${name}" names shard ${showBounded(shard)}; expected a .safetensors file name in the same directory`);
    }
    out.set(name, shard);
  }
  return out;
}

/** Picks each tensor of the weight map from its shard's header, in weight-map order. */
export function tensorsFromShards(indexFile: string, weightMap: Map<string, string>, shardTensors: Map<string, Map<string, TensorInfo>>): Map<string, TensorInfo> {
  const tensors = new Map<string, TensorInfo>();
  for (const [name, shard] of weightMap) {
    const t = shardTensors.get(shard)?.get(name);
    if (!t) throw new ModelFormatError(indexFile, 'weight_map', `says tensor "${name}" is in "${shard}", but that shard has no such tensor; the index and shards do not match`);
    tensors.set(name, t);
  }
  return tensors;
}
