// RoPE angles to ~1e-6 rad at any position below 2^24 in f32 arithmetic. The CPU reference computes
// pos * invFreq in float64; a plain f32 product is off by up to ulp(pos)/2 rad (4e-3 rad at 128K tokens)
// and GPU cos/sin are only accurate on [-pi, pi]. So the host splits every frequency into exact pieces
// and the shader reduces each exact product modulo 2*pi (Cody-Waite) before calling cos/sin.
import { ShapeError, type RopeSpec } from '@shadowkv/core';
import { f32Literal } from './wgsl-common.js';

/** Positions are split as pos = hi * 4096 + lo, both below 4096, so hi and lo have 12 bits. */
export const POSITION_SPLIT = 4096;
/** Largest |position| the split supports. */
export const MAX_ROPE_POSITION = POSITION_SPLIT * POSITION_SPLIT - 1;

const TWO_PI = 2 * Math.PI;
// 2*pi = C1 + C2 + C3: C1 has 8 significant bits and C2 11, so k*C1 and k*C2 are exact for k < 2^13.
const C1 = 6.28125;
const C2 = Math.round((TWO_PI - C1) * 2 ** 20) / 2 ** 20;
const C3 = Math.fround(TWO_PI - C1 - C2);
const INV_TWO_PI = Math.fround(1 / TWO_PI);

/** Splits v into hi + lo where hi keeps the 12 leading significant bits (so hi * a 12-bit integer is exact in f32). */
export function split12(v: number): [number, number] {
  if (v === 0 || !Number.isFinite(v)) return [v, 0];
  let e = Math.floor(Math.log2(Math.abs(v)));
  // log2 can be off by one next to powers of two.
  if (Math.abs(v) >= 2 ** (e + 1)) e += 1;
  if (Math.abs(v) < 2 ** e) e -= 1;
  const q = 2 ** (e - 11);
  const hi = Math.round(v / q) * q;
  return [hi, Math.fround(v - hi)];
}

/**
 * Per rotary pair i: [fHi, fLo, rHi, rLo] where invFreq[i] = fHi + fLo exactly and
 * (4096 * invFreq[i]) mod 2*pi = rHi + rLo (to f32 precision). Shape [headDim/2, 4].
 */
export function ropeTable(op: string, rope: RopeSpec): Float32Array {
  const d = rope.headDim;
  if (!Number.isInteger(d) || d <= 0 || d % 2 !== 0) throw new ShapeError(op, `rope.headDim ${d} must be a positive even integer`);
  const half = d / 2;
  if (rope.invFreq.length < half) throw new ShapeError(op, `rope.invFreq has ${rope.invFreq.length} entries, headDim ${d} needs ${half}`);
  const table = new Float32Array(half * 4);
  for (let i = 0; i < half; i++) {
    const f = rope.invFreq[i]; // already an f32 value: the CPU reference multiplies exactly this number
    const [fHi, fLo] = split12(f);
    const r = (POSITION_SPLIT * f) % TWO_PI;
    const [rHi, rLo] = split12(r);
    table.set([fHi, fLo, rHi, rLo], i * 4);
  }
  return table;
}

/** WGSL of `ropeAngle(pos, entry)`: the angle pos * invFreq reduced to [-pi, pi]. */
export const ROPE_ANGLE_WGSL = /* wgsl */ `
const RA_C1: f32 = ${f32Literal(C1)};
const RA_C2: f32 = ${f32Literal(C2)};
const RA_C3: f32 = ${f32Literal(C3)};
const RA_INV_TWO_PI: f32 = ${f32Literal(INV_TWO_PI)};
fn reduceTwoPi(t: f32) -> f32 {
  let k = round(t * RA_INV_TWO_PI);
  return ((t - k * RA_C1) - k * RA_C2) - k * RA_C3;
}
fn ropeAngle(pos: i32, e: vec4<f32>) -> f32 {
  let ap = u32(abs(pos));
  let ph = f32(ap / ${POSITION_SPLIT}u);
  let pl = f32(ap % ${POSITION_SPLIT}u);
  // ph * rHi and pl * fHi are exact products; the lo terms are small, so their rounding is too.
  let a = reduceTwoPi(reduceTwoPi(ph * e.z) + reduceTwoPi(pl * e.x) + (ph * e.w + pl * e.y));
  return select(a, -a, pos < 0);
}
`;

/** The same computation as ROPE_ANGLE_WGSL in emulated f32 (tests compare it with float64). */
export function ropeAngleF32(pos: number, e: ArrayLike<number>): number {
  const fr = Math.fround;
  const roundEven = (v: number): number => {
    const r = Math.round(v);
    return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  const reduce = (t: number): number => {
    const k = roundEven(fr(t * INV_TWO_PI));
    return fr(fr(fr(t - fr(k * C1)) - fr(k * C2)) - fr(k * C3));
  };
  const ap = Math.abs(pos);
  const ph = Math.floor(ap / POSITION_SPLIT);
  const pl = ap % POSITION_SPLIT;
  const lo = fr(fr(ph * e[3]) + fr(pl * e[1]));
  const a = reduce(fr(fr(reduce(fr(ph * e[2])) + reduce(fr(pl * e[0]))) + lo));
  return pos < 0 ? -a : a;
}
