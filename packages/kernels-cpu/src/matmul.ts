// out[m, n] = x[m, k] · w[n, k]ᵀ with 4x4 register blocking: both operands are read along k,
// which is contiguous for x rows and for w rows (the Hugging Face Linear layout).

export function matmulInto(out: Float32Array, x: Float32Array, w: Float32Array, m: number, n: number, k: number): void {
  const m4 = m - (m % 4);
  const n4 = n - (n % 4);
  for (let i = 0; i < m4; i += 4) {
    const x0 = i * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
    for (let j = 0; j < n4; j += 4) {
      const w0 = j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
      let a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
      let a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
      for (let p = 0; p < k; p++) {
        const b0 = w[w0 + p], b1 = w[w1 + p], b2 = w[w2 + p], b3 = w[w3 + p];
        const c0 = x[x0 + p], c1 = x[x1 + p], c2 = x[x2 + p], c3 = x[x3 + p];
        a00 += c0 * b0; a01 += c0 * b1; a02 += c0 * b2; a03 += c0 * b3;
        a10 += c1 * b0; a11 += c1 * b1; a12 += c1 * b2; a13 += c1 * b3;
        a20 += c2 * b0; a21 += c2 * b1; a22 += c2 * b2; a23 += c2 * b3;
        a30 += c3 * b0; a31 += c3 * b1; a32 += c3 * b2; a33 += c3 * b3;
      }
      let o = i * n + j;
      out[o] = a00; out[o + 1] = a01; out[o + 2] = a02; out[o + 3] = a03; o += n;
      out[o] = a10; out[o + 1] = a11; out[o + 2] = a12; out[o + 3] = a13; o += n;
      out[o] = a20; out[o + 1] = a21; out[o + 2] = a22; out[o + 3] = a23; o += n;
      out[o] = a30; out[o + 1] = a31; out[o + 2] = a32; out[o + 3] = a33;
    }
    for (let j = n4; j < n; j++) {
      for (let r = 0; r < 4; r++) out[(i + r) * n + j] = dot(x, (i + r) * k, w, j * k, k);
    }
  }
  for (let i = m4; i < m; i++) gemvRow(out, i * n, x, i * k, w, n, k);
}

/** One output row: out[o..o+n] = x[xo..xo+k] · wᵀ, four w rows at a time. */
function gemvRow(out: Float32Array, o: number, x: Float32Array, xo: number, w: Float32Array, n: number, k: number): void {
  const n4 = n - (n % 4);
  for (let j = 0; j < n4; j += 4) {
    const w0 = j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let p = 0; p < k; p++) {
      const c = x[xo + p];
      a0 += c * w[w0 + p]; a1 += c * w[w1 + p]; a2 += c * w[w2 + p]; a3 += c * w[w3 + p];
    }
    out[o + j] = a0; out[o + j + 1] = a1; out[o + j + 2] = a2; out[o + j + 3] = a3;
  }
  for (let j = n4; j < n; j++) out[o + j] = dot(x, xo, w, j * k, k);
}

export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, k: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const k4 = k - (k % 4);
  let p = 0;
  for (; p < k4; p += 4) {
    s0 += a[ao + p] * b[bo + p];
    s1 += a[ao + p + 1] * b[bo + p + 1];
    s2 += a[ao + p + 2] * b[bo + p + 2];
    s3 += a[ao + p + 3] * b[bo + p + 3];
  }
  for (; p < k; p++) s0 += a[ao + p] * b[bo + p];
  return s0 + s1 + s2 + s3;
}

/** Rows of a 16-bit w widened per block: a multiple of 4, so the blocks split `n` where matmulInto's 4-column groups do. */
const HALF_BLOCK_ROWS = 64;

/**
 * out[m, n] = x[m, k] · w[n, k]ᵀ with w given as raw f16/bf16 bits, widened on the fly (exactly) one block of
 * rows at a time and accumulated like matmulInto: the result equals matmulInto on the widened w bit for bit.
 */
export function matmulHalfInto(
  out: Float32Array,
  x: Float32Array,
  w: Uint16Array,
  widen: (src: Uint16Array, out: Float32Array) => Float32Array,
  m: number,
  n: number,
  k: number,
): void {
  const rows = Math.min(HALF_BLOCK_ROWS, n);
  const wBlock = new Float32Array(rows * k);
  const oBlock = new Float32Array(m * rows);
  for (let j0 = 0; j0 < n; j0 += rows) {
    const nb = Math.min(rows, n - j0);
    widen(w.subarray(j0 * k, (j0 + nb) * k), wBlock);
    const o = nb === rows ? oBlock : oBlock.subarray(0, m * nb);
    matmulInto(o, x, wBlock, m, nb, k);
    for (let i = 0; i < m; i++) out.set(o.subarray(i * nb, (i + 1) * nb), i * n + j0);
  }
}
