// gpu.js source of matmul: out[m, n] = x[m, k] · w[n, k]ᵀ, one output element per thread.
// GLSL ES 1.0 needs a compile-time loop bound: kMax (k rounded up to a power of two) is one, and the loop
// breaks at the uniform k, so one compiled kernel serves every k up to kMax.

/** Loop constants: kMax. */
export const MATMUL = `function(x, w, n, k) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / n);
  const col = Math.floor(t - row * n);
  const xo = row * k;
  const wo = col * k;
  let acc = 0;
  for (let p = 0; p < this.constants.kMax; p++) {
    if (p >= k) {
      break;
    }
    acc += x[xo + p] * w[wo + p];
  }
  return acc;
}`;
