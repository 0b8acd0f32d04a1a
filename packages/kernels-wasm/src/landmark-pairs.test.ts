// wasm landmarkScores scores the query heads of a GQA group two at a time: a paired head's scores must be exactly
// what that head gets alone (same sums in the same order), so ShadowKV's selection does not depend on the pairing.
import { mulberry32 } from '@shadowkv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { wasm } from './wasm.js';

function normals(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() + r() + r() - 1.5) * 2);
}

describe('wasm landmarkScores, query heads in pairs', () => {
  const backends = [wasm({ threads: 1 }), wasm({ threads: 2, thresholds: { sparse: 0 } })];
  afterAll(async () => {
    for (const b of backends) (await b).destroy();
  });

  // [group, nKvHeads, nChunks, width]: pairs only (2), pairs and a single (3, 5), widths with a tail (65, 66).
  for (const [group, nKv, nChunks, width] of [[2, 2, 37, 64], [3, 2, 13, 72], [5, 1, 10, 65], [4, 3, 7, 66]] as const) {
    it(`group ${group}, ${nKv} KV heads, ${nChunks} chunks, width ${width}: the max over single-head calls, bit for bit`, async () => {
      const nHeads = group * nKv;
      const q = normals(nHeads * width, 1);
      const lm = normals(nKv * nChunks * width, 2);
      const scale = 1 / Math.sqrt(width);
      for (const pending of backends) {
        const be = await pending;
        const got = (await be.read(be.landmarkScores(be.upload(q, [1, nHeads * width]), be.upload(lm, [nKv, nChunks, width]), nHeads, scale))) as Float32Array;
        const want = new Float32Array(nKv * nChunks).fill(-Infinity);
        for (let g = 0; g < nKv; g++) {
          const lg = be.upload(lm.subarray(g * nChunks * width, (g + 1) * nChunks * width), [1, nChunks, width]);
          for (let h = g * group; h < (g + 1) * group; h++) {
            const one = (await be.read(be.landmarkScores(be.upload(q.subarray(h * width, (h + 1) * width), [1, width]), lg, 1, scale))) as Float32Array;
            for (let c = 0; c < nChunks; c++) want[g * nChunks + c] = Math.max(want[g * nChunks + c], one[c]);
          }
        }
        expect(Array.from(got)).toEqual(Array.from(want));
      }
    });
  }
});
