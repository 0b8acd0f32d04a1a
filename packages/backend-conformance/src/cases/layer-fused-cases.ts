// Conformance of the optional decode-layer fusions (rmsNormMatmuls, rmsNormMatmulSwiglu, ropeQk, writeKvPair)
// against the CPU reference, which specifies each as exactly the separate ops. Skipped, saying so, for a
// backend that does not offer the op (callers then use the separate ops), and run once, in the f32 run: the
// activations are f32 in the model; the weights are f32, f16 and bf16 (those the backend takes), uploaded as
// the same bits on both sides, so widening is exact and only the backend's own f32 arithmetic differs.
//
// Tolerances (relative to the output's max |value|, the f32 table of tolerances.ts):
// * rmsNormMatmuls / rmsNormMatmulSwiglu: two reductions over k in sequence (the sum of squares of the norm,
//   then the dot products), whose rounding errors add: a reduction of length 4k bounds the sum of two of
//   length k (2·c·sqrt(k) = c·sqrt(4k)); SwiGLU after it is elementwise and within that bound.
// * ropeQk: rope's rotation tolerance, per output (the angles of q's and of k's heads).
// * writeKvPair: exact copies, and the cache rows outside start..start+m left exactly as they were.
import type { KernelBackend, Tensor } from '@shadowkv/core';
import { f32ToBf16, f32ToF16 } from '@shadowkv/core';
import { compareOutputs } from '../compare-outputs.js';
import type { CaseContext, ConformanceCase, OpName } from '../conformance-case.js';
import { ConformanceMismatchError } from '../conformance-mismatch-error.js';
import { makeRopeSpec, ropeAngles } from '../test-rope-spec.js';
import type { Tolerance } from '../tolerances.js';

type WeightDType = 'f32' | 'f16' | 'bf16';

/** Skips (with the reason) unless this is the f32 run, the backend offers `op` and takes `wd` weights. */
function applies(ctx: CaseContext, op: OpName, wd: WeightDType): boolean {
  const be = ctx.backend as unknown as Record<string, unknown>;
  const why =
    ctx.dtype !== 'f32'
      ? 'the layer fusions run once, in the f32 run (activations are f32 in the model)'
      : typeof be[op] !== 'function'
        ? `${ctx.backend.name} does not offer the optional ${op}`
        : wd !== 'f32' && !ctx.backend.capabilities.weightDtypes.includes(wd)
          ? `${ctx.backend.name} does not take ${wd} weights`
          : null;
  if (why === null) return true;
  ctx.skip?.(why);
  return false;
}

/** A weight uploaded with the same bits to both backends. */
function uploadWeight(be: KernelBackend, data: Float32Array, shape: number[], wd: WeightDType): Tensor {
  if (wd === 'f32') return be.upload(data, shape, 'f32');
  return be.upload(wd === 'f16' ? f32ToF16(data) : f32ToBf16(data), shape, wd);
}

/** Runs `run` on both backends with the same inputs and compares every output it returns. */
async function compareMany(
  ctx: CaseContext,
  label: string,
  inputs: { data: Float32Array | Int32Array; shape: number[]; weight?: WeightDType }[],
  run: (be: KernelBackend, ts: Tensor[]) => Tensor[],
  tolerances: Tolerance[],
): Promise<void> {
  const up = (be: KernelBackend) =>
    inputs.map((h) =>
      h.data instanceof Int32Array ? be.upload(h.data, h.shape, 'i32') : h.weight ? uploadWeight(be, h.data, h.shape, h.weight) : be.upload(h.data, h.shape, 'f32'),
    );
  const refOuts = run(ctx.reference, up(ctx.reference));
  const wants = await Promise.all(refOuts.map((t) => ctx.reference.read(t)));
  const ins = up(ctx.backend);
  const owned = [...ins];
  try {
    const outs = run(ctx.backend, ins);
    for (const t of outs) if (!ins.includes(t)) owned.push(t);
    if (outs.length !== refOuts.length) throw new ConformanceMismatchError(`${label}: ${outs.length} outputs, expected ${refOuts.length}`);
    for (let i = 0; i < outs.length; i++) {
      if (outs[i].shape.join(',') !== refOuts[i].shape.join(',')) {
        throw new ConformanceMismatchError(`${label}: output ${i} has shape [${outs[i].shape.join(', ')}], expected [${refOuts[i].shape.join(', ')}]`);
      }
      compareOutputs(`${label} output ${i}`, await ctx.backend.read(outs[i]), wants[i], refOuts[i].shape, tolerances[i], 'f32');
    }
  } finally {
    for (const t of owned) ctx.backend.dispose(t);
  }
}

function rmsNormMatmulsCase(wd: WeightDType, m: number, k: number, ns: number[]): ConformanceCase {
  const name = `${wd} weights m=${m} k=${k} n=${ns.join('/')}`;
  return {
    op: 'rmsNormMatmuls',
    name,
    async check(ctx) {
      if (!applies(ctx, 'rmsNormMatmuls', wd)) return;
      const r = ctx.rng;
      const norm = Float32Array.from(r.normals(k), (v) => 1 + 0.25 * v);
      await compareMany(
        ctx,
        `rmsNormMatmuls ${name}`,
        [
          { data: r.normals(m * k, 3), shape: [m, k] },
          { data: norm, shape: [k] },
          ...ns.map((n) => ({ data: r.normals(n * k, 1 / Math.sqrt(k)), shape: [n, k], weight: wd })),
        ],
        (be, [x, g, ...ws]) => be.rmsNormMatmuls!(x, g, 1e-5, ws),
        ns.map(() => ({ kind: 'reduction', length: 4 * k })),
      );
    },
  };
}

function rmsNormMatmulSwigluCase(wd: WeightDType, m: number, k: number, n: number): ConformanceCase {
  const name = `${wd} weights m=${m} k=${k} n=${n}`;
  return {
    op: 'rmsNormMatmulSwiglu',
    name,
    async check(ctx) {
      if (!applies(ctx, 'rmsNormMatmulSwiglu', wd)) return;
      const r = ctx.rng;
      await compareMany(
        ctx,
        `rmsNormMatmulSwiglu ${name}`,
        [
          { data: r.normals(m * k, 3), shape: [m, k] },
          { data: Float32Array.from(r.normals(k), (v) => 1 + 0.25 * v), shape: [k] },
          { data: r.normals(n * k, 2 / Math.sqrt(k)), shape: [n, k], weight: wd },
          { data: r.normals(n * k, 1 / Math.sqrt(k)), shape: [n, k], weight: wd },
        ],
        (be, [x, g, wg, wu]) => [be.rmsNormMatmulSwiglu!(x, g, 1e-5, wg, wu)],
        [{ kind: 'reduction', length: 4 * k }],
      );
    },
  };
}

function ropeQkCase(m: number, nHeads: number, nKv: number, headDim: number, start: number): ConformanceCase {
  const name = `m=${m} heads=${nHeads}/${nKv} headDim=${headDim} start=${start}`;
  return {
    op: 'ropeQk',
    name,
    async check(ctx) {
      if (!applies(ctx, 'ropeQk', 'f32')) return;
      const r = ctx.rng;
      const spec = makeRopeSpec(headDim, { longContextScaling: true, attentionScaling: 1.1 });
      const positions = Int32Array.from({ length: m }, (_, i) => start + i);
      await compareMany(
        ctx,
        `ropeQk ${name}`,
        [
          { data: r.normals(m * nHeads * headDim), shape: [m, nHeads * headDim] },
          { data: r.normals(m * nKv * headDim), shape: [m, nKv * headDim] },
          { data: positions, shape: [m] },
        ],
        (be, [q, k, pos]) => be.ropeQk!(q, k, pos, nHeads, nKv, spec),
        [
          { kind: 'rotation', length: 1, angles: ropeAngles(positions, nHeads, spec) },
          { kind: 'rotation', length: 1, angles: ropeAngles(positions, nKv, spec) },
        ],
      );
    },
  };
}

function writeKvPairCase(m: number, nKv: number, cap: number, headDim: number, start: number): ConformanceCase {
  const name = `m=${m} nKv=${nKv} cap=${cap} headDim=${headDim} start=${start}`;
  return {
    op: 'writeKvPair',
    name,
    async check(ctx) {
      if (!applies(ctx, 'writeKvPair', 'f32')) return;
      const r = ctx.rng;
      // The caches start filled (not zero) so that a write outside start..start+m, or a missed one, shows.
      await compareMany(
        ctx,
        `writeKvPair ${name}`,
        [
          { data: r.normals(nKv * cap * headDim), shape: [nKv, cap, headDim] },
          { data: r.normals(nKv * cap * headDim), shape: [nKv, cap, headDim] },
          { data: r.normals(m * nKv * headDim), shape: [m, nKv * headDim] },
          { data: r.normals(m * nKv * headDim), shape: [m, nKv * headDim] },
        ],
        (be, [kc, vc, k, v]) => {
          be.writeKvPair!(kc, vc, k, v, start);
          return [kc, vc];
        },
        [{ kind: 'exact' }, { kind: 'exact' }],
      );
    },
  };
}

export function layerFusedCases(): ConformanceCase[] {
  const weights: WeightDType[] = ['f32', 'f16', 'bf16'];
  // Shapes: q/k/v of a GQA layer (one launch on WebGPU), k not a multiple of the vector width, two weights,
  // one weight, a wide one, m = 2 and m = 9 (above the GEMV rows: the unfused path).
  const mm: [number, number, number[]][] = [[1, 64, [64, 16, 16]], [1, 42, [33, 9, 9]], [2, 256, [96, 96]], [1, 26, [5]], [3, 128, [1030, 256, 256]], [9, 32, [40, 8, 8]]];
  const sw: [number, number, number][] = [[1, 64, 160], [2, 42, 33], [1, 256, 1030], [9, 32, 48]];
  return [
    ...weights.flatMap((wd) => mm.map(([m, k, ns]) => rmsNormMatmulsCase(wd, m, k, ns))),
    ...weights.flatMap((wd) => sw.map(([m, k, n]) => rmsNormMatmulSwigluCase(wd, m, k, n))),
    ropeQkCase(1, 8, 2, 32, 300),
    ropeQkCase(3, 4, 4, 64, 0),
    ropeQkCase(9, 6, 2, 16, 1000),
    writeKvPairCase(1, 2, 16, 32, 7),
    writeKvPairCase(3, 4, 10, 8, 7),
    writeKvPairCase(9, 1, 9, 4, 0),
  ];
}
