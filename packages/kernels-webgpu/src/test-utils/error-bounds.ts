// Test helper: per-element error bounds of f32 GPU results against the CPU reference, and the check.
//
// The CPU reference accumulates in float64 and rounds once, so it is treated as exact. The bounds are
// the classic worst-case ones (Higham, "Accuracy and Stability of Numerical Algorithms", ch. 3): a sum of
// n terms computed in f32 in any order (sequential, tiled, tree, with or without fma) is within
// gamma(n) * sum|terms| of the exact sum. Transcendentals use WGSL's stated accuracy: exp within
// (3 + 2|x|) ulp. Bugs (a wrong index, a dropped term, a wrong mask) move results by orders of magnitude
// more than these bounds, while no correct f32 implementation can exceed them.
import { expect } from 'vitest';

/** Unit roundoff of f32. */
export const U = 2 ** -24;
/** One ulp of a number in [1, 2) in f32. */
export const ULP = 2 ** -23;

/** gamma(n) = n u / (1 - n u): relative bound of an n-term f32 sum (of exact or once-rounded products, n + 1). */
export function gamma(n: number): number {
  const nu = (n + 1) * U;
  return nu / (1 - nu);
}

/**
 * RoPE angle error (rad) of the backend's Cody-Waite reduction: its worst case is ~2e-6 and
 * rope-table.test.ts measures ~1e-6 over positions up to 2^24 in emulated f32; fma contraction can only
 * remove roundings. 2.5e-6 keeps a margin over the worst case.
 */
export const ANGLE_ERROR = 2.5e-6;
/**
 * sin/cos error on [-pi, pi]: lavapipe and desktop GPUs are better than 2^-20 absolute. WGSL only promises
 * 2^-11, so a conforming but sloppy adapter could fail this tight bound; the conformance suite's looser
 * relative bound still applies there.
 */
export const TRIG_ERROR = 2 ** -20;

/** Expects |got[i] - want[i]| <= bound(i) everywhere; the message names the worst element. */
export function expectWithin(what: string, got: ArrayLike<number>, want: ArrayLike<number>, bound: (i: number) => number): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const b = bound(i);
    const ratio = err === 0 ? 0 : err / b;
    if (!(ratio <= 1) && (worst < 0 || !(ratio <= worstRatio))) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${got[worst]}, reference ${want[worst]}, error ${Math.abs(got[worst] - want[worst])} > bound ${bound(worst)}`);
  }
}

/** Expects bit-identical contents (copies, indices). */
export function expectExact(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i]) && !(got[i] === want[i])) expect.fail(`${what}: element ${i} is ${got[i]}, reference ${want[i]}`);
  }
}
