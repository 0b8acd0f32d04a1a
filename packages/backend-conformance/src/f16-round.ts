// Rounds numbers to the nearest IEEE binary16 value (ties to even), so the CPU reference sees exactly
// the inputs an f16 backend stores.

/** Halfway between the largest finite binary16 (65504) and the next step (65536): rounds to infinity from here on. */
const F16_OVERFLOW = 65520;

/** Nearest binary16 value of x as a JS number (infinities and NaN pass through). */
export function roundToF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a >= F16_OVERFLOW) return sign * Infinity;
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one next to powers of two; fix the exponent exactly.
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // Below 2^-14 the format is subnormal with a fixed step of 2^-24.
  const quantum = 2 ** (Math.max(e, -14) - 10);
  const r = a / quantum;
  const f = Math.floor(r);
  const frac = r - f;
  const n = frac > 0.5 ? f + 1 : frac < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  // a < F16_OVERFLOW guarantees n * quantum <= 65504.
  return sign * n * quantum;
}

/** A copy of `data` with every element rounded to binary16. */
export function roundArrayToF16(data: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = roundToF16(data[i]);
  return out;
}
