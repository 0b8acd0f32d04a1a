// The rows4 layout of 16-bit weights (weight-layout.ts) changes where each weight lives, not what any op computes:
// every op that takes a weight (GEMV, its fused epilogues, the prefill GEMM, embedding) must give bit-identical
// outputs on a backend that keeps weights row-major, and read() must return the uploaded bits exactly. Shapes cover
// more than one group of rows and of k-blocks, GEMV (m < 4) and GEMM (m >= 4) rows, and a shape the layout does
// not take (n % 4 != 0 or k % 8 != 0), which must stay row-major.
import { f32ToBf16, f32ToF16, mulberry32, type Tensor } from '@shadowkv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { wasm } from './wasm.js';
import type { WasmBackend } from './wasm-backend.js';
import { rowsFromRows4 } from './weight-layout.js';
import { WasmTensor } from './wasm-tensor.js';

function normals(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() + r() + r() - 1.5) * 2;
  return out;
}

/** Count of positions whose values differ as Object.is sees them (bit-identical floats give 0). */
function differing(a: Float32Array | Int32Array, b: Float32Array | Int32Array): number {
  expect(a.length).toBe(b.length);
  let bad = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) bad++;
  return bad;
}

const made: WasmBackend[] = [];
async function pair(threads: number): Promise<{ rows: WasmBackend; rows4: WasmBackend }> {
  const thresholds = threads > 1 ? { matmul: 0, elementwise: 0 } : undefined;
  const rows = await wasm({ threads, thresholds, weightLayout: 'rows' });
  const rows4 = await wasm({ threads, thresholds });
  made.push(rows, rows4);
  return { rows, rows4 };
}
afterAll(() => {
  for (const b of made) b.destroy();
});

describe('rowsFromRows4', () => {
  it('inverts the interleave: element (j, p) sits at group j/4, block p/8, row j%4, lane p%8', () => {
    const n = 8, k = 16;
    const inter = new Uint16Array(n * k);
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) inter[(j >> 2) * 4 * k + (p >> 3) * 32 + (j & 3) * 8 + (p & 7)] = j * 100 + p;
    const rows = rowsFromRows4(inter, n, k);
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) expect(rows[j * k + p]).toBe(j * 100 + p);
  });
});

for (const threads of [1, 2]) {
  describe(`rows4 weights equal row-major weights bit for bit (${threads} thread${threads > 1 ? 's' : ''})`, () => {
    for (const dtype of ['bf16', 'f16'] as const) {
      for (const [n, k] of [[12, 24], [8, 256], [6, 20], [8, 20]] as const) {
        const takesRows4 = n % 4 === 0 && k % 8 === 0;
        it(`${dtype} w[${n}, ${k}]${takesRows4 ? '' : ' (not rows4: stays row-major)'}`, async () => {
          const { rows, rows4 } = await pair(threads);
          const wBits = (dtype === 'bf16' ? f32ToBf16 : f32ToF16)(normals(n * k, n * 1000 + k));
          const uBits = (dtype === 'bf16' ? f32ToBf16 : f32ToF16)(normals(n * k, n * 1000 + k + 1));
          const run = async (be: WasmBackend) => {
            const w = be.upload(wBits, [n, k], dtype);
            const u = be.upload(uBits, [n, k], dtype);
            const norm = be.upload(normals(k, 7), [k]);
            const outs: (Float32Array | Int32Array)[] = [await be.read(w)];
            for (const m of [1, 2, 3, 5, 9]) {
              const x = be.upload(normals(m * k, 100 + m), [m, k]);
              const res = be.upload(normals(m * n, 200 + m), [m, n]);
              const ts: Tensor[] = [
                be.matmul(x, w),
                be.matmulAdd(x, w, res),
                be.matmulSwiglu(x, w, u),
                ...be.rmsNormMatmuls(x, norm, 1e-5, [w, u]),
                be.rmsNormMatmulSwiglu(x, norm, 1e-5, w, u),
              ];
              for (const t of ts) outs.push(await be.read(t));
            }
            // The table of embedding: every row, in an order that crosses groups.
            const ids = be.upload(Int32Array.from({ length: n }, (_, i) => (i * 5 + 3) % n), [n], 'i32');
            outs.push(await be.read(be.embedding(w, ids)));
            return { outs, layout: (w as WasmTensor).rows4 };
          };
          const a = await run(rows);
          const b = await run(rows4);
          expect(a.layout).toBe(false);
          expect(b.layout).toBe(takesRows4);
          expect(b.outs.length).toBe(a.outs.length);
          for (let i = 0; i < a.outs.length; i++) expect(differing(b.outs[i], a.outs[i]), `output ${i}`).toBe(0);
        });
      }
    }
  });
}

describe('zeros in a 16-bit weight dtype', () => {
  it('reads back as zeros in either layout and multiplies to zeros', async () => {
    const { rows4 } = await pair(1);
    const w = rows4.zeros([8, 16], 'bf16');
    expect((w as WasmTensor).rows4).toBe(true);
    expect(Array.from(await rows4.read(w)).every((v) => v === 0)).toBe(true);
    const y = await rows4.read(rows4.matmul(rows4.upload(normals(16, 3), [1, 16]), w));
    expect(Array.from(y).every((v) => v === 0)).toBe(true);
  });
});
