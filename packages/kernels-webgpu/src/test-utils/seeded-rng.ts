// Test helper: the conformance suite's seeded RNG (core's mulberry32) plus uniform float arrays, so
// failures reproduce from the printed seed.
import { SeededRng } from '@shadowkv/backend-conformance';

export class Rng extends SeededRng {
  /** n floats uniform in [-scale, scale). */
  floats(n: number, scale = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (this.next() * 2 - 1) * scale;
    return a;
  }
}
