// Host side of the rows4 weight layout (assembly/weight-layout.ts has the kernels' side and the reasons): which
// layouts a backend can keep 16-bit weights in, and the row-major copy read() returns.

/**
 * How the wasm backend stores 16-bit weight matrices [n, k]: 'rows4' (default) interleaves groups of four rows in
 * blocks of eight columns when n % 4 == 0 and k % 8 == 0, so that a decode GEMV streams them in address order;
 * 'rows' keeps them row-major (the layout the GEMV read before; results are bit-identical, only speed differs).
 */
export type WeightLayout = 'rows' | 'rows4';

/** Row-major copy of the 16-bit elements of a matrix [n, k] stored in the rows4 layout. */
export function rowsFromRows4(bits: Uint16Array, n: number, k: number): Uint16Array {
  const out = new Uint16Array(bits.length);
  for (let j = 0; j < n; j++) {
    const src = (j >> 2) * 4 * k + (j & 3) * 8;
    const dst = j * k;
    for (let p = 0; p < k; p += 8) {
      const s = src + p * 4;
      for (let e = 0; e < 8; e++) out[dst + p + e] = bits[s + e];
    }
  }
  return out;
}
