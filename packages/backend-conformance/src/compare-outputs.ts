// Element-by-element comparison of a backend's output with the reference, under a Tolerance.
import { ConformanceMismatchError } from './conformance-mismatch-error.js';
import type { FloatDType } from './conformance-case.js';
import { describeTolerance, relativeBound, type Tolerance } from './tolerances.js';

/** Flat index → "[i, j, k]" for messages. */
export function multiIndex(flat: number, shape: readonly number[]): string {
  const parts: number[] = [];
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    parts.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return `[${parts.join(', ')}]`;
}

/**
 * Throws ConformanceMismatchError unless every element of `got` is within the tolerance of `want`.
 * NaN never passes; infinities must match exactly.
 */
export function compareOutputs(
  label: string,
  got: Float32Array | Int32Array,
  want: Float32Array | Int32Array,
  shape: readonly number[],
  tol: Tolerance,
  dtype: FloatDType,
): void {
  if (got.length !== want.length) {
    throw new ConformanceMismatchError(`${label}: read back ${got.length} elements, expected ${want.length}`);
  }
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    const a = Math.abs(want[i]);
    if (Number.isFinite(a) && a > maxAbs) maxAbs = a;
  }
  // An all-zero reference would make every relative bound zero; measure against 1 instead.
  const scale = maxAbs > 0 ? maxAbs : 1;
  let bad = 0;
  let worst = -1;
  let worstRatio = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    const bound = tol.kind === 'exact' ? 0 : scale * relativeBound(tol, dtype, i);
    let ok: boolean;
    if (!Number.isFinite(w)) ok = g === w;
    else ok = Math.abs(g - w) <= bound;
    if (!ok) {
      bad++;
      const diff = Math.abs(g - w);
      const ratio = Number.isNaN(diff) || bound === 0 ? Infinity : diff / bound;
      if (ratio > worstRatio || worst < 0) {
        worstRatio = ratio;
        worst = i;
      }
    }
  }
  if (bad > 0) {
    const g = got[worst];
    const w = want[worst];
    const bound = tol.kind === 'exact' ? 0 : scale * relativeBound(tol, dtype, worst);
    throw new ConformanceMismatchError(
      `${label}: ${bad} of ${want.length} elements differ from the cpu reference ` +
        `(tolerance: ${describeTolerance(tol, dtype)} relative to max|want| = ${maxAbs.toPrecision(4)}); ` +
        `worst at ${multiIndex(worst, shape)}: got ${g}, want ${w}, |diff| ${Math.abs(g - w).toPrecision(4)} > bound ${bound.toPrecision(4)}`,
    );
  }
}
