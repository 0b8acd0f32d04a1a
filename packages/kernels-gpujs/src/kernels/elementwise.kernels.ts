// gpu.js sources of the elementwise kernels. Every tensor is a flat array; this.thread.x is the flat index.
// Sources are strings (not functions) so that no transpiler can rewrite the code gpu.js parses. Sizes are
// uniform arguments, so one compiled kernel serves every shape.

/** out[t] = a[t]: turns host arrays into backend-resident outputs (textures in the GL modes). */
export const COPY = `function(a) {
  return a[this.thread.x];
}`;

/** out[t] = 0. */
export const FILL_ZERO = `function() {
  return 0;
}`;

/** out[t] = a[t] + b[t]. */
export const ADD = `function(a, b) {
  return a[this.thread.x] + b[this.thread.x];
}`;

/** out[t] = silu(gate[t]) * up[t]; exp(-x) overflows to +inf for very negative x, giving -0 as it should. */
export const SWIGLU = `function(gate, up) {
  const x = gate[this.thread.x];
  return x / (1 + Math.exp(-x)) * up[this.thread.x];
}`;

/** out[m, hidden] = table[ids[i], :]. */
export const EMBEDDING = `function(table, ids, hidden) {
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / hidden);
  const c = Math.floor(t - row * hidden);
  return table[ids[row] * hidden + c];
}`;
