// Which dtype each weight matrix is kept in on the backend: 16-bit checkpoint weights stay 16-bit where the
// backend takes them (`capabilities.weightDtypes`), halving the bytes every decode step reads; elsewhere
// they are widened to f32. Norm weights are always f32 (rmsNorm takes f32 only and they are tiny).
import { f32ToBf16, f32ToF16, InvalidOptionError, type KernelBackend } from '@shadowkv/core';
import type { TensorInfo, WeightSource } from './weight-source.js';

/** Dtypes a weight matrix can be kept in; `weightsDtype` options take these. */
export type WeightsDtype = 'f32' | 'f16' | 'bf16';
export const WEIGHTS_DTYPES: readonly WeightsDtype[] = ['f32', 'f16', 'bf16'];

/** How the weights were placed: what was asked, what the checkpoint holds, what the backend got, and why. */
export interface WeightsPlacement {
  /** The `weightsDtype` option, or undefined for "the checkpoint's dtype". */
  requested: WeightsDtype | undefined;
  /** Storage dtype of the weight matrices in the checkpoint (the embedding's dtype). */
  checkpoint: WeightsDtype;
  /** Dtype of the weight matrices on the backend (embedding, projections, LM head); norms stay f32. */
  dtype: WeightsDtype;
  /** Why `dtype` differs from what was asked (e.g. the backend does not take 16-bit weights). */
  note?: string;
  /** Bytes of the weight matrices held on the backend. */
  bytes: number;
}

/** The checkpoint's own dtype of a float tensor (F32/F16/BF16 → f32/f16/bf16). */
export function storedWeightsDtype(info: TensorInfo): WeightsDtype {
  return info.dtype === 'BF16' ? 'bf16' : info.dtype === 'F16' ? 'f16' : 'f32';
}

/** Throws InvalidOptionError unless `v` is undefined or one of WEIGHTS_DTYPES. */
export function checkWeightsDtype(v: unknown): WeightsDtype | undefined {
  if (v === undefined || (WEIGHTS_DTYPES as readonly unknown[]).includes(v)) return v as WeightsDtype | undefined;
  throw new InvalidOptionError('weightsDtype', `"${String(v)}" is not a weight dtype; use one of ${WEIGHTS_DTYPES.join(', ')} (or leave it out for the checkpoint's dtype)`);
}

/**
 * The dtype a weight matrix gets on `backend`: the requested one (default: as stored), or f32 when the backend
 * does not list it in `capabilities.weightDtypes`.
 */
export function placeWeight(info: TensorInfo, requested: WeightsDtype | undefined, backend: KernelBackend): { dtype: WeightsDtype; note?: string } {
  const want = requested ?? storedWeightsDtype(info);
  if (want === 'f32' || backend.capabilities.weightDtypes.includes(want)) return { dtype: want };
  return { dtype: 'f32', note: `the ${backend.name} backend takes ${backend.capabilities.weightDtypes.join(', ')} weights, so ${want} weights are widened to f32` };
}

/**
 * Reads one weight tensor in `dtype`: raw bits when the checkpoint stores exactly that dtype (no conversion),
 * f32 widened from any stored float dtype, or f32 narrowed (round to nearest even) to the other 16-bit dtype.
 * Narrowing to f16 rejects values that overflow its range (65504) instead of turning them into infinities.
 */
export async function readWeight(source: WeightSource, info: TensorInfo, dtype: WeightsDtype): Promise<Float32Array | Uint16Array> {
  if (dtype !== 'f32' && storedWeightsDtype(info) === dtype && source.readBits16) return source.readBits16(info.name);
  const wide = await source.readF32(info.name);
  if (dtype === 'f32') return wide;
  if (dtype === 'bf16') return f32ToBf16(wide);
  const bits = f32ToF16(wide);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7c00) === 0x7c00 && Number.isFinite(wide[i])) {
      throw new InvalidOptionError('weightsDtype', `${info.name} holds ${wide[i]} at element ${i}, outside the f16 range (±65504); use weightsDtype bf16 or f32 for this model`);
    }
  }
  return bits;
}
