// The kernel paths of wasm attention that the shared conformance suite (head dims 64 and 128 only) does not reach:
// head dims that are not a multiple of 16 (the column tails of the weighted sums) on the two-row path (GQA groups
// of 1 and 2, two keys per vector) and the four-row path, with odd and even key counts, decode and causal rows of
// different limits. Against the CPU reference, with the conformance suite's bound for attention: a reduction over
// kvLen + headDim terms, max(1e-5, 2.5e-6 * sqrt(length)) relative to the largest |output|.
import { mulberry32, type AttentionParams } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { wasm } from './wasm.js';

function normals(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() + r() + r() - 1.5) * 2;
  return out;
}

function maxRelErr(got: Float32Array, want: Float32Array): number {
  let maxAbs = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return err / (maxAbs || 1);
}

const ref = cpu();
// [group, nKvHeads, headDim, m, kvLen, causal]
const CASES: [number, number, number, number, number, boolean][] = [
  [1, 2, 20, 1, 7, false], [2, 2, 20, 1, 8, false], [2, 1, 36, 1, 1, false], [2, 2, 6, 1, 33, false],
  [1, 1, 20, 5, 12, true], [2, 2, 36, 3, 10, true], [1, 3, 24, 6, 6, true], [4, 2, 20, 1, 9, false], [4, 1, 20, 3, 40, true],
];

for (const threads of [1, 2]) {
  describe(`wasm attention paths (${threads} thread${threads > 1 ? 's, pooled' : ''})`, async () => {
    const be = await wasm({ threads, thresholds: { attention: 0 } });
    afterAll(() => be.destroy());
    for (const [group, nKvHeads, headDim, m, kvLen, causal] of CASES) {
      it(`group ${group}, ${nKvHeads} KV heads, headDim ${headDim}, m=${m}, kvLen ${kvLen}${causal ? ', causal' : ''}: equals the reference`, async () => {
        const nHeads = group * nKvHeads;
        const capacity = kvLen + 3;
        const p: AttentionParams = { nHeads, nKvHeads, headDim, kvLen, causal, queryOffset: causal ? kvLen - m : 0, scale: 1 / Math.sqrt(headDim) };
        const q = normals(m * nHeads * headDim, 1 + headDim + m);
        const k = normals(nKvHeads * capacity * headDim, 2 + kvLen);
        const v = normals(nKvHeads * capacity * headDim, 3 + kvLen);
        const run = async (b: typeof ref | typeof be) =>
          (await b.read(b.attention(b.upload(q, [m, nHeads * headDim]), b.upload(k, [nKvHeads, capacity, headDim]), b.upload(v, [nKvHeads, capacity, headDim]), p))) as Float32Array;
        const got = await run(be);
        const want = await run(ref);
        expect(got.length).toBe(m * nHeads * headDim);
        expect(maxRelErr(got, want)).toBeLessThanOrEqual(Math.max(1e-5, 2.5e-6 * Math.sqrt(kvLen + headDim)));
      });
    }
  });
}
