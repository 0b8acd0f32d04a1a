// Attention over a head-major KV layout [nKvHeads, capacity, headDim], GQA aware.
// Works one query row at a time with a score buffer of kvLen floats: memory is O(kvLen), never O(m * kvLen).
import type { AttentionParams } from '@shadowkv/core';
import { dot } from './matmul.js';

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
  const scores = new Float32Array(kvLen);
  const acc = new Float64Array(d);
  const qStride = nHeads * d;
  for (let h = 0; h < nHeads; h++) {
    const g = Math.floor(h / group);
    const kvBase = g * kvCapacity * d;
    for (let i = 0; i < m; i++) {
      const limit = causal ? Math.min(kvLen, queryOffset + i + 1) : kvLen;
      const qo = i * qStride + h * d;
      let max = -Infinity;
      for (let j = 0; j < limit; j++) {
        const s = dot(q, qo, k, kvBase + j * d, d) * scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < limit; j++) {
        const e = Math.exp(scores[j] - max);
        scores[j] = e;
        sum += e;
      }
      acc.fill(0);
      for (let j = 0; j < limit; j++) {
        const pj = scores[j];
        const vo = kvBase + j * d;
        for (let c = 0; c < d; c++) acc[c] += pj * v[vo + c];
      }
      const inv = limit > 0 ? 1 / sum : 0;
      for (let c = 0; c < d; c++) out[qo + c] = acc[c] * inv;
    }
  }
}
