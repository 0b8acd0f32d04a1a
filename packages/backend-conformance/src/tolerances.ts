// The conformance tolerances, per dtype, in one place, with the reasoning behind every number.
//
// Every float comparison is relative to the largest |value| of the reference output (the CPU backend,
// which accumulates in float64 and rounds once to f32, so it is effectively exact): an element passes
// when |got - want| <= maxAbs(want) * bound. Scaling by the output's own magnitude keeps one table valid
// for inputs of any size; bugs (a wrong index, a missing term, a wrong mask) move outputs by a sizeable
// fraction of that magnitude and still fail.
import type { FloatDType } from './conformance-case.js';

/** How an op's result may differ from the reference. */
export type Tolerance =
  /** Copies and integer results (embedding, gatherChunks, writeKv, topK, upload/read): bit-exact. */
  | { kind: 'exact' }
  /** One or two roundings per element (add, swiglu). */
  | { kind: 'elementwise' }
  /** Each output element sums `length` terms (matmul k, rmsNorm d, softmax n, attention kvLen). */
  | { kind: 'reduction'; length: number }
  /**
   * RoPE outputs: a reduction of `length` terms (1 for plain rope, rank for rebuildKeys) rotated by a
   * per-element angle in radians (`angles` has one entry per output element).
   */
  | { kind: 'rotation'; length: number; angles: Float64Array };

/** The numbers of the table; see `TOLERANCE_TABLE` for why each is what it is. */
export interface DTypeTolerances {
  /** Bound for elementwise ops. */
  elementwise: number;
  /** Floor of the bound for reductions. */
  reductionFloor: number;
  /** Reductions over k terms get max(reductionFloor, reductionPerSqrtK * sqrt(k)). */
  reductionPerSqrtK: number;
  /** Rotations add anglePerRadian * |angle| to the bound of their reduction. */
  anglePerRadian: number;
}

/**
 * f32:
 * - elementwise 1e-5: an f32 result is correctly rounded to 2^-24 ≈ 6e-8 relative; GPU transcendentals
 *   (exp in swiglu, exp/rsqrt elsewhere) are specified to a few ulp (WGSL exp: 3 + 2|x| ulp), so 1e-5
 *   leaves about 10x margin over the worst specified error while a wrong formula is off by > 1e-2.
 * - reductions max(1e-5, 2.5e-6 * sqrt(k)): summing k terms in f32 with any order (sequential, tiled,
 *   tree) has a typical error of about 2^-24 * sqrt(k) relative to the output's magnitude (rounding errors
 *   of the partial sums add up like a random walk). 2.5e-6 * sqrt(k) is ~40x that, for GPUs that use
 *   fused multiply-add, online-softmax rescaling and approximate exp. At k = 4096 the bound is 1.6e-4;
 *   dropping or duplicating one term of a 4096-long matmul row is ~4e-3 and still fails.
 * - angles 2^-21 per radian: a backend that forms the RoPE angle pos * invFreq in f32 rounds it once
 *   (<= 2^-24 * angle) and typically once more in sin/cos range reduction; each error moves both outputs
 *   of the rotated pair, whose norm is up to sqrt(2) * maxAbs. 2^-21 covers two such roundings with ~1.4x
 *   margin. At position 131000 the fastest pair (invFreq 1) may be off by 6% of maxAbs — inherent to f32
 *   angles (Hugging Face's f32 RoPE has the same error) — while slow pairs stay near 1e-5.
 *
 * f16 (inputs are rounded to f16 before both backends see them, so only the backend's own roundings count):
 * - elementwise 2e-3: an f16 output carries 2^-11 ≈ 4.9e-4 relative rounding; 2e-3 allows an f16
 *   intermediate (e.g. silu stored before the multiply) plus the output rounding, ~2x margin.
 * - reductions max(4e-3, 2e-4 * sqrt(k)): accumulation is expected in f32; f16 products and the f16
 *   output add ~1e-3. Accumulating in f16 grows as 2^-11 * sqrt(k/2) (2.2e-2 at k = 4096) and is meant to
 *   fail at long sizes: the bound there is 1.3e-2.
 * - angles 2^-21 per radian, as for f32: angles must be formed in f32 even when the data is f16.
 */
export const TOLERANCE_TABLE: Readonly<Record<FloatDType, DTypeTolerances>> = {
  f32: { elementwise: 1e-5, reductionFloor: 1e-5, reductionPerSqrtK: 2.5e-6, anglePerRadian: 2 ** -21 },
  f16: { elementwise: 2e-3, reductionFloor: 4e-3, reductionPerSqrtK: 2e-4, anglePerRadian: 2 ** -21 },
};

/** Bound of a reduction over `length` terms, relative to the output's max |value|. */
export function reductionBound(dtype: FloatDType, length: number): number {
  const t = TOLERANCE_TABLE[dtype];
  return Math.max(t.reductionFloor, t.reductionPerSqrtK * Math.sqrt(Math.max(1, length)));
}

/**
 * Per-element bound relative to the output's max |value|, or 0 for exact comparison.
 * `index` is the flat element index (only rotations depend on it).
 */
export function relativeBound(tol: Tolerance, dtype: FloatDType, index: number): number {
  const t = TOLERANCE_TABLE[dtype];
  switch (tol.kind) {
    case 'exact':
      return 0;
    case 'elementwise':
      return t.elementwise;
    case 'reduction':
      return reductionBound(dtype, tol.length);
    case 'rotation':
      return reductionBound(dtype, tol.length) + t.anglePerRadian * Math.abs(tol.angles[index]);
  }
}

/** A short human-readable description of a tolerance, for failure messages. */
export function describeTolerance(tol: Tolerance, dtype: FloatDType): string {
  switch (tol.kind) {
    case 'exact':
      return 'exact';
    case 'elementwise':
      return `${dtype} elementwise ${TOLERANCE_TABLE[dtype].elementwise}`;
    case 'reduction':
      return `${dtype} reduction over ${tol.length} terms: ${reductionBound(dtype, tol.length).toExponential(2)}`;
    case 'rotation':
      return `${dtype} rotation: ${reductionBound(dtype, tol.length).toExponential(2)} + 2^-21 * |angle|`;
  }
}
