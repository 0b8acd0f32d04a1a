// Normalizes the RoPE section of config.json: legacy `rope_scaling` + `rope_theta`, or the newer
// `rope_parameters` object (transformers v5), into one RopeScaling value and a theta.
import { ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import { isJsonObject, positiveInt, positiveNumber, showJsonValue, type JsonObject } from './config-fields.js';

/** RoPE frequency scaling, as named by Hugging Face's `rope_type`. */
export type RopeScaling =
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; originalMaxPositionEmbeddings: number }
  | { type: 'default' };

const SUPPORTED = ['default', 'linear', 'dynamic', 'llama3'];

/** Transformers' default theta when a Llama config omits it. */
const DEFAULT_ROPE_THETA = 10000;

/** The RoPE base and scaling of a config, from whichever layout it uses. */
export function parseRopeSection(
  json: JsonObject,
  file: string,
  maxPositionEmbeddings: number,
): { ropeTheta: number; ropeScaling: RopeScaling | null } {
  const params = json.rope_parameters;
  if (params !== undefined && params !== null) {
    const field = 'rope_parameters';
    if (!isJsonObject(params)) throw new ModelFormatError(file, field, `must be an object, got ${showJsonValue(params)}`);
    if (params.rope_type === undefined && params.type === undefined && Object.values(params).some(isJsonObject)) {
      // Per-layer-type RoPE (e.g. {"full_attention": {...}, "sliding_attention": {...}}) is not a Llama layout.
      throw new UnsupportedModelError(file, field, 'per-layer-type RoPE parameters are not supported; Llama models use one rope_type for all layers');
    }
    // rope_theta lives inside rope_parameters in this layout; a top-level value is the fallback.
    const topTheta = positiveNumber(json, file, 'rope_theta', DEFAULT_ROPE_THETA);
    const ropeTheta = positiveNumber(prefixed(params, field), file, `${field}.rope_theta`, topTheta);
    return { ropeTheta, ropeScaling: parseScaling(params, file, field, maxPositionEmbeddings) };
  }
  const ropeTheta = positiveNumber(json, file, 'rope_theta', DEFAULT_ROPE_THETA);
  const scaling = json.rope_scaling;
  if (scaling === undefined || scaling === null) return { ropeTheta, ropeScaling: null };
  if (!isJsonObject(scaling)) throw new ModelFormatError(file, 'rope_scaling', `must be an object or null, got ${showJsonValue(scaling)}`);
  return { ropeTheta, ropeScaling: parseScaling(scaling, file, 'rope_scaling', maxPositionEmbeddings) };
}

function parseScaling(obj: JsonObject, file: string, field: string, maxPositionEmbeddings: number): RopeScaling {
  // Older configs spell the key `type`; current ones `rope_type`.
  const rawType = obj.rope_type ?? obj.type;
  if (typeof rawType !== 'string') {
    throw new ModelFormatError(file, `${field}.rope_type`, `is missing or not a string (got ${showJsonValue(rawType)}); expected one of ${SUPPORTED.join(', ')}`);
  }
  const sub = (name: string) => `${field}.${name}`;
  // Field readers report the dotted path, so errors point inside the nested object.
  const num = (name: string, fallback?: number) => positiveNumber(prefixed(obj, field), file, sub(name), fallback);
  const int = (name: string, fallback?: number) => positiveInt(prefixed(obj, field), file, sub(name), fallback);
  const factor = () => {
    const f = num('factor');
    if (f < 1) throw new ModelFormatError(file, sub('factor'), `must be >= 1 (it stretches the context), got ${f}`);
    return f;
  };
  switch (rawType) {
    case 'default':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: factor() };
    case 'dynamic':
      // Transformers falls back to max_position_embeddings when the original length is not given.
      return { type: 'dynamic', factor: factor(), originalMaxPositionEmbeddings: int('original_max_position_embeddings', maxPositionEmbeddings) };
    case 'llama3': {
      const s = {
        type: 'llama3' as const,
        factor: factor(),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositionEmbeddings: int('original_max_position_embeddings'),
      };
      if (s.highFreqFactor <= s.lowFreqFactor) {
        throw new ModelFormatError(file, sub('high_freq_factor'), `must be greater than low_freq_factor (${s.lowFreqFactor}), got ${s.highFreqFactor}`);
      }
      return s;
    }
    default:
      throw new UnsupportedModelError(
        file,
        sub('rope_type'),
        `RoPE scaling type "${rawType}" is not supported; supported types: ${SUPPORTED.join(', ')}`,
      );
  }
}

/** Re-keys obj so that `${field}.${key}` looks up `key` (lets the field readers name the nested path). */
function prefixed(obj: JsonObject, field: string): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) out[`${field}.${k}`] = v;
  return out;
}
