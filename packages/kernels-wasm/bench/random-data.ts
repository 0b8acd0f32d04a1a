// Seeded uniform data for the kernels-wasm benchmarks (a linear congruential generator: the same inputs every run).

/** n values uniform in [-scale, scale), from `seed`. */
export function rand(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}
