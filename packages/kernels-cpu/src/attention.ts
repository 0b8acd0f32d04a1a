// Attention over a head-major KV layout [nKvHeads, capacity, headDim], GQA aware.
// For each KV head, the query rows of all its query heads are processed four at a time: scores
// S[4, kvLen] = Q4 · Kᵀ and the output O[4, headDim] = softmax(S) · V are both register-blocked 4x4
// products, so every key/value row loaded serves four queries. Memory is O(kvLen) per block of four
// query rows, never O(m * kvLen).
import type { AttentionParams } from '@shadowkv/core';

export function attentionInto(
  out: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  m: number,
  kvCapacity: number,
  p: AttentionParams,
): void {
  const { nHeads, nKvHeads, headDim: d, kvLen, causal, queryOffset, scale } = p;
  const group = nHeads / nKvHeads;
  const rows = m * group; // (query row, head in group) pairs sharing one KV head
  const s = new Float32Array(4 * kvLen); // scores of 4 rows, then their probabilities
  const qo = new Int32Array(4); // offsets of the 4 rows in q/out
  const lim = new Int32Array(4); // keys visible to each row
  const sums = new Float64Array(4);
  for (let g = 0; g < nKvHeads; g++) {
    const kvBase = g * kvCapacity * d;
    for (let r0 = 0; r0 < rows; r0 += 4) {
      const nr = Math.min(4, rows - r0);
      let maxLim = 0;
      for (let t = 0; t < 4; t++) {
        const r = r0 + Math.min(t, nr - 1); // pad a short block by repeating its last row
        const i = Math.floor(r / group);
        const h = g * group + (r % group);
        qo[t] = (i * nHeads + h) * d;
        lim[t] = causal ? Math.min(kvLen, queryOffset + i + 1) : kvLen;
        if (lim[t] > maxLim) maxLim = lim[t];
      }
      scores4(s, q, qo, k, kvBase, d, maxLim, kvLen, scale);
      for (let t = 0; t < 4; t++) sums[t] = softmaxPrefix(s, t * kvLen, lim[t], maxLim);
      weightedValues4(out, qo, nr, s, v, kvBase, d, maxLim, kvLen, sums);
    }
  }
}

/** s[t, j] = scale * q_t · k_j for 4 query rows t and keys j < n, four keys at a time. */
function scores4(s: Float32Array, q: Float32Array, qo: Int32Array, k: Float32Array, kvBase: number, d: number, n: number, stride: number, scale: number): void {
  const q0 = qo[0], q1 = qo[1], q2 = qo[2], q3 = qo[3];
  const n4 = n - (n % 4);
  let j = 0;
  for (; j < n4; j += 4) {
    const k0 = kvBase + j * d, k1 = k0 + d, k2 = k1 + d, k3 = k2 + d;
    let a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    let a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
    for (let c = 0; c < d; c++) {
      const b0 = k[k0 + c], b1 = k[k1 + c], b2 = k[k2 + c], b3 = k[k3 + c];
      const x0 = q[q0 + c], x1 = q[q1 + c], x2 = q[q2 + c], x3 = q[q3 + c];
      a00 += x0 * b0; a01 += x0 * b1; a02 += x0 * b2; a03 += x0 * b3;
      a10 += x1 * b0; a11 += x1 * b1; a12 += x1 * b2; a13 += x1 * b3;
      a20 += x2 * b0; a21 += x2 * b1; a22 += x2 * b2; a23 += x2 * b3;
      a30 += x3 * b0; a31 += x3 * b1; a32 += x3 * b2; a33 += x3 * b3;
    }
    s[j] = a00 * scale; s[j + 1] = a01 * scale; s[j + 2] = a02 * scale; s[j + 3] = a03 * scale;
    let o = stride + j;
    s[o] = a10 * scale; s[o + 1] = a11 * scale; s[o + 2] = a12 * scale; s[o + 3] = a13 * scale;
    o += stride;
    s[o] = a20 * scale; s[o + 1] = a21 * scale; s[o + 2] = a22 * scale; s[o + 3] = a23 * scale;
    o += stride;
    s[o] = a30 * scale; s[o + 1] = a31 * scale; s[o + 2] = a32 * scale; s[o + 3] = a33 * scale;
  }
  for (; j < n; j++) {
    const kj = kvBase + j * d;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let c = 0; c < d; c++) {
      const b = k[kj + c];
      a0 += q[q0 + c] * b; a1 += q[q1 + c] * b; a2 += q[q2 + c] * b; a3 += q[q3 + c] * b;
    }
    s[j] = a0 * scale; s[stride + j] = a1 * scale; s[2 * stride + j] = a2 * scale; s[3 * stride + j] = a3 * scale;
  }
}

/** In place: exp(s - max) over the row's first `lim` entries, zero for lim..n; returns the sum. */
function softmaxPrefix(s: Float32Array, base: number, lim: number, n: number): number {
  let max = -Infinity;
  for (let j = 0; j < lim; j++) if (s[base + j] > max) max = s[base + j];
  let sum = 0;
  for (let j = 0; j < lim; j++) {
    const e = Math.exp(s[base + j] - max);
    s[base + j] = e;
    sum += e;
  }
  for (let j = lim; j < n; j++) s[base + j] = 0;
  return sum;
}

/** out_t = (Σ_j p[t, j] v_j) / sum_t for the first `nr` of 4 rows, four output columns at a time. */
function weightedValues4(
  out: Float32Array, qo: Int32Array, nr: number, s: Float32Array, v: Float32Array, kvBase: number,
  d: number, n: number, stride: number, sums: Float64Array,
): void {
  const s1 = stride, s2 = 2 * stride, s3 = 3 * stride;
  for (let c = 0; c < d; c += 4) {
    let a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    let a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
    let vo = kvBase + c;
    for (let j = 0; j < n; j++, vo += d) {
      const b0 = v[vo], b1 = v[vo + 1], b2 = v[vo + 2], b3 = v[vo + 3];
      const p0 = s[j], p1 = s[s1 + j], p2 = s[s2 + j], p3 = s[s3 + j];
      a00 += p0 * b0; a01 += p0 * b1; a02 += p0 * b2; a03 += p0 * b3;
      a10 += p1 * b0; a11 += p1 * b1; a12 += p1 * b2; a13 += p1 * b3;
      a20 += p2 * b0; a21 += p2 * b1; a22 += p2 * b2; a23 += p2 * b3;
      a30 += p3 * b0; a31 += p3 * b1; a32 += p3 * b2; a33 += p3 * b3;
    }
    const w = Math.min(4, d - c);
    store4(out, qo[0] + c, w, sums[0], a00, a01, a02, a03);
    if (nr > 1) store4(out, qo[1] + c, w, sums[1], a10, a11, a12, a13);
    if (nr > 2) store4(out, qo[2] + c, w, sums[2], a20, a21, a22, a23);
    if (nr > 3) store4(out, qo[3] + c, w, sums[3], a30, a31, a32, a33);
  }
}

function store4(out: Float32Array, o: number, w: number, sum: number, x0: number, x1: number, x2: number, x3: number): void {
  const inv = sum > 0 ? 1 / sum : 0;
  out[o] = x0 * inv;
  if (w > 1) out[o + 1] = x1 * inv;
  if (w > 2) out[o + 2] = x2 * inv;
  if (w > 3) out[o + 3] = x3 * inv;
}
