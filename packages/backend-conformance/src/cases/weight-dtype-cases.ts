// Conformance of 16-bit weights: f16 and bf16 tensors uploaded as raw bits (Uint16Array) and used as the weight
// operand of matmul (w) and embedding (table), for backends that list the dtype in capabilities.weightDtypes.
//
// Reference and tolerances: the CPU backend with the same raw bits. Widening f16 or bf16 to f32 is exact, so
// the reference computes exactly what the f32 suite's reference computes for the widened weights; a backend
// that widens and accumulates in f32 differs from it only by its own f32 summation order. The f32 table
// therefore applies unchanged: matmul is a reduction over k (max(1e-5, 2.5e-6·sqrt(k)) of the output's
// magnitude), embedding and read are exact copies of exactly widened values. A backend that rounds the
// activations to 16 bits, widens a bf16 pattern as f16 (or the reverse) or drops the low mantissa bits is off
// by 1e-3 or more and fails.
import { f32ToBf16, f32ToF16, halfToF32, type KernelBackend, type Tensor } from '@shadowkv/core';
import { compareOutputs } from '../compare-outputs.js';
import type { CaseContext, ConformanceCase, OpName } from '../conformance-case.js';
import { ConformanceMismatchError } from '../conformance-mismatch-error.js';
import type { SeededRng } from '../seeded-rng.js';
import type { Tolerance } from '../tolerances.js';

type HalfDType = 'f16' | 'bf16';
const HALF_DTYPES: readonly HalfDType[] = ['bf16', 'f16'];

const narrow = (dtype: HalfDType, data: Float32Array): Uint16Array => (dtype === 'bf16' ? f32ToBf16(data) : f32ToF16(data));

interface WeightBody {
  /** f32 activations / i32 ids, and the 16-bit weight's f32 values (narrowed to bits before upload). */
  x: { data: Float32Array | Int32Array; shape: number[] };
  w: { data: Float32Array; shape: number[] };
  run(be: KernelBackend, x: Tensor, w: Tensor): Tensor;
  tolerance: Tolerance;
}

/** Skips (with the reason) unless this is the f32 run and the backend takes `dtype` weights; returns whether to run. */
function applies(ctx: CaseContext, dtype: HalfDType): boolean {
  const { backend } = ctx;
  const why =
    ctx.dtype !== 'f32'
      ? '16-bit weight cases run once, in the f32 run (activations are f32)'
      : !backend.capabilities.weightDtypes.includes(dtype)
        ? `${backend.name} does not take ${dtype} weights (capabilities.weightDtypes = ${backend.capabilities.weightDtypes.join(', ')})`
        : null;
  if (why === null) return true;
  ctx.skip?.(why);
  return false;
}

function weightCase(op: OpName, dtype: HalfDType, name: string, build: (rng: SeededRng) => WeightBody): ConformanceCase {
  return {
    op,
    name: `${dtype} weights ${name}`,
    async check(ctx) {
      if (!applies(ctx, dtype)) return;
      const { backend, reference } = ctx;
      const label = `${op} ${dtype} weights ${name}`;
      const body = build(ctx.rng);
      const bits = narrow(dtype, body.w.data);
      const xRef = reference.upload(body.x.data, body.x.shape, body.x.data instanceof Int32Array ? 'i32' : 'f32');
      const want = await reference.read(body.run(reference, xRef, reference.upload(bits, body.w.shape, dtype)));
      const x = backend.upload(body.x.data, body.x.shape, body.x.data instanceof Int32Array ? 'i32' : 'f32');
      const w = backend.upload(bits, body.w.shape, dtype);
      if (w.dtype !== dtype) throw new ConformanceMismatchError(`${label}: the uploaded weight says dtype ${w.dtype}, expected ${dtype}`);
      const out = body.run(backend, x, w);
      try {
        if (out.dtype !== 'f32') throw new ConformanceMismatchError(`${label}: output dtype ${out.dtype}, expected f32`);
        const got = await backend.read(out);
        compareOutputs(label, got, want, out.shape, body.tolerance, 'f32');
      } finally {
        for (const t of [x, w, out]) backend.dispose(t);
      }
    },
  };
}

/** upload of raw bits, then read: the exactly widened values (the bits are stored as they are). */
function roundTripCase(dtype: HalfDType, n: number): ConformanceCase {
  return {
    op: 'upload',
    name: `${dtype} weight bits round trip [${n}]`,
    async check(ctx) {
      if (!applies(ctx, dtype)) return;
      const raw = ctx.rng.normals(n, 3);
      // Signed zero, a subnormal f16 value and a bf16 value beyond the f16 range, where conversions go wrong.
      raw[0] = -0;
      raw[1] = 3e-6;
      if (dtype === 'bf16') raw[2] = 1e30;
      const bits = narrow(dtype, raw);
      const t = ctx.backend.upload(bits, [n], dtype);
      try {
        const got = await ctx.backend.read(t);
        if (!(got instanceof Float32Array)) throw new ConformanceMismatchError(`upload/read ${dtype}: read() returned ${got.constructor.name}, expected Float32Array`);
        compareOutputs(`upload/read ${dtype} weight bits`, got, halfToF32(dtype, bits), [n], { kind: 'exact' }, 'f32');
        if (Object.is(got[0], -0) === false) throw new ConformanceMismatchError(`upload/read ${dtype}: -0 read back as ${got[0]}`);
      } finally {
        ctx.backend.dispose(t);
      }
    },
  };
}

function matmulCase(dtype: HalfDType, m: number, k: number, n: number): ConformanceCase {
  return weightCase('matmul', dtype, `m=${m} k=${k} n=${n}`, (rng) => ({
    x: { data: rng.normals(m * k), shape: [m, k] },
    w: { data: rng.normals(n * k, 1 / Math.sqrt(k)), shape: [n, k] },
    run: (be, x, w) => be.matmul(x, w),
    tolerance: { kind: 'reduction', length: k },
  }));
}

function embeddingCase(dtype: HalfDType, vocab: number, hidden: number, m: number): ConformanceCase {
  return weightCase('embedding', dtype, `vocab=${vocab} hidden=${hidden} m=${m}`, (rng) => {
    const ids = rng.ints(m, 0, vocab - 1);
    ids[0] = vocab - 1;
    if (m > 1) ids[1] = 0;
    return {
      x: { data: ids, shape: [m] },
      w: { data: rng.normals(vocab * hidden), shape: [vocab, hidden] },
      run: (be, idv, table) => be.embedding(table, idv),
      tolerance: { kind: 'exact' },
    };
  });
}

/**
 * The 16-bit weight cases: decode-shaped (m = 1) and prefill-shaped products with tails in every dimension, a
 * long k, embedding rows at both ends of the table, and the raw-bits round trip.
 */
export function weightDtypeCases(): ConformanceCase[] {
  return HALF_DTYPES.flatMap((d) => [
    roundTripCase(d, 37),
    matmulCase(d, 1, 64, 96),
    matmulCase(d, 1, 257, 33),
    matmulCase(d, 7, 130, 67),
    matmulCase(d, 33, 48, 129),
    matmulCase(d, 4, 2048, 16),
    embeddingCase(d, 50, 40, 5),
    embeddingCase(d, 7, 129, 1),
  ]);
}
