// The 16-bit weight checks of the cuda backend (matmul and embedding with f16/bf16 weights against the CPU on the
// same rounded weights), shared by cuda.conformance.test.ts and the GPU machine's runner (scripts/gpu). Not part
// of the public API. Every matmul path keeps x at f32 precision in effect, so the bound is the conformance
// table's f32 reduction bound (1e-5 floor, 2.5e-6 * sqrt(k)): m <= 8 runs the gemv16 kernel (x in f32); m > 8
// with f16 weights widens w to f32; m > 8 with bf16 weights splits x into bf16 hi + lo parts for two tensor-core
// GEMMs, leaving at most 2^-18 |x| per product, for which 4 * 2^-18 (1.5e-5) is added. A single bf16 rounding
// of x (2^-9 per product) fails this bound.
import type { KernelBackend } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { roundArrayToF16 } from '@shadowkv/backend-conformance';

export interface WeightCheck {
  name: string;
  ok: boolean;
  /** Largest |got - want| relative to the reference's max |value| (0 and exact for embedding). */
  worst: number;
  bound: number;
}

/** bf16 bit patterns of f32 values (round to nearest even) and the values they stand for. */
export function toBf16(data: Float32Array): { bits: Uint16Array; widened: Float32Array } {
  const bits = new Uint16Array(data.length);
  const widened = new Float32Array(data.length);
  const u = new Uint32Array(1);
  const f = new Float32Array(u.buffer);
  for (let i = 0; i < data.length; i++) {
    f[0] = data[i];
    const b = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
    bits[i] = b;
    u[0] = b << 16;
    widened[i] = f[0];
  }
  return { bits, widened };
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Runs every check on `be` (a cuda backend); bf16 goes up as raw bits, f16 as f32 narrowed on the device. */
export async function weightChecks(be: KernelBackend): Promise<WeightCheck[]> {
  const ref = cpu();
  const out: WeightCheck[] = [];
  for (const dtype of ['bf16', 'f16'] as const) {
    for (const m of [1, 5, 8, 9, 64]) {
      const k = 520;
      const n = 96;
      const r = lcg(m * 7 + (dtype === 'bf16' ? 1 : 2));
      const x = Float32Array.from({ length: m * k }, r);
      const w = Float32Array.from({ length: n * k }, r);
      const widened = dtype === 'bf16' ? toBf16(w).widened : roundArrayToF16(w);
      const wt = dtype === 'bf16' ? be.upload(toBf16(w).bits, [n, k], 'bf16') : be.upload(w, [n, k], 'f16');
      const xt = be.upload(x, [m, k]);
      const ot = be.matmul(xt, wt);
      const got = (await be.read(ot)) as Float32Array;
      for (const t of [wt, xt, ot]) be.dispose(t);
      const want = ref.readSync(ref.matmul(ref.upload(x, [m, k]), ref.upload(widened, [n, k]))) as Float32Array;
      const maxAbs = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      const bound = Math.max(1e-5, 2.5e-6 * Math.sqrt(k)) + (m > 8 && dtype === 'bf16' ? 4 * 2 ** -18 : 0);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / maxAbs);
      out.push({ name: `${dtype} matmul m=${m} k=${k} n=${n}`, ok: worst <= bound, worst, bound });
    }
    const table = Float32Array.from({ length: 50 * 24 }, lcg(3));
    const widened = dtype === 'bf16' ? toBf16(table).widened : roundArrayToF16(table);
    const tt = be.upload(dtype === 'bf16' ? toBf16(table).bits : table, [50, 24], dtype);
    const ids = [49, 0, 7];
    const it = be.upload(new Int32Array(ids), [3]);
    const et = be.embedding(tt, it);
    const got = (await be.read(et)) as Float32Array;
    for (const t of [tt, it, et]) be.dispose(t);
    let worst = 0;
    ids.forEach((id, i) => {
      for (let c = 0; c < 24; c++) worst = Math.max(worst, Math.abs(got[i * 24 + c] - widened[id * 24 + c]));
    });
    out.push({ name: `${dtype} embedding rows equal the rounded table`, ok: worst === 0, worst, bound: 0 });
  }
  return out;
}
