// Drives a cache policy the way the forward pass does, with seeded random q/k/v, for the policy tests.
import type { KernelBackend, KvCacheContext, KvCachePolicy, KvCacheState, RopeSpec, Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';

export const backend = cpu();

export interface Shape {
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

/** A cache context on `be` (default: the cpu backend); `run` creates its inputs and reads outputs there too. */
export function context(shape: Shape, maxSeqLen: number, be: KernelBackend = backend): KvCacheContext {
  const invFreq = new Float32Array(shape.headDim / 2);
  for (let i = 0; i < invFreq.length; i++) invFreq[i] = 1 / 10000 ** ((2 * i) / shape.headDim);
  const rope: RopeSpec = { headDim: shape.headDim, invFreq, attentionScaling: 1 };
  return { backend: be, model: shape, rope, maxSeqLen };
}

/** Deterministic value in [-1, 1) for (seed, layer, position, index). */
function noise(seed: number, l: number, p: number, i: number): number {
  let x = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(l + 1, 0xc2b2ae35) ^ Math.imul(p + 7, 0x27d4eb2f) ^ Math.imul(i + 13, 0x165667b1);
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d);
  x = Math.imul(x ^ (x >>> 12), 0x297a2d39);
  return ((x ^ (x >>> 15)) >>> 0) / 2 ** 31 - 1;
}

export interface RunOptions {
  promptLen: number;
  steps: number;
  seed?: number;
  prefillChunk?: number;
  /** Multiplies q (larger: peakier attention, so that sparse selection matters). */
  qScale?: number;
  /**
   * Per layer, the weight of the per-position part of the keys (default 0.6 for every layer); keys are
   * 0.8 · (a per-layer constant row) + this · (per-position noise), so a small weight makes that layer's
   * pre-RoPE keys nearly rank 1.
   */
  keyNoise?: number[];
  /**
   * Prefill layer-major, as LayerMajorPrefill does: one step over the prompt, each layer's pieces (the same cuts)
   * in order and endPrefillLayer after each layer's last piece. `onPrefillUnit` sees the state after every piece.
   */
  layerMajor?: boolean;
  onPrefillUnit?: (state: KvCacheState) => void;
  /** Called after each decode step (s counts from 0) with the state. */
  onDecodeStep?: (state: KvCacheState, s: number) => Promise<void> | void;
}

export interface RunResult {
  state: KvCacheState;
  /** Output of the last prompt row per layer: [nLayers][nHeads*headDim]. */
  prefillLast: Float32Array[];
  /** Decode outputs [steps][nLayers][nHeads*headDim]. */
  decode: Float32Array[][];
}

/**
 * Same inputs for every policy: token p of layer l gets q, pre-RoPE k and v from `noise`. Keys share a
 * per-layer direction plus noise (real keys are far from isotropic), which also makes the SVD meaningful.
 */
export async function run(policy: KvCachePolicy, ctx: KvCacheContext, o: RunOptions): Promise<RunResult> {
  const { nLayers, nHeads, nKvHeads, headDim } = ctx.model;
  const backend = ctx.backend;
  const seed = o.seed ?? 1;
  const qScale = o.qScale ?? 2;
  const chunk = o.prefillChunk ?? 64;
  policy.validate(ctx, o.promptLen);
  const state = policy.create(ctx);
  const width = nKvHeads * headDim;
  const inputs = (l: number, start: number, m: number) => {
    const q = new Float32Array(m * nHeads * headDim);
    const k = new Float32Array(m * width);
    const v = new Float32Array(m * width);
    for (let i = 0; i < m; i++) {
      const p = start + i;
      for (let j = 0; j < nHeads * headDim; j++) q[i * nHeads * headDim + j] = qScale * noise(seed, l, p, j);
      for (let j = 0; j < width; j++) {
        k[i * width + j] = 0.8 * noise(seed + 1, l, 0, j) + (o.keyNoise?.[l] ?? 0.6) * noise(seed + 2, l, p, j);
        v[i * width + j] = noise(seed + 3, l, p, j);
      }
    }
    const pos = backend.upload(Int32Array.from({ length: m }, (_, i) => start + i), [m], 'i32');
    const qT = backend.rope(backend.upload(q, [m, nHeads * headDim]), pos, nHeads, ctx.rope);
    const kPre = backend.upload(k, [m, width]);
    return { layer: l, start, m, q: qT, kPre, k: backend.rope(kPre, pos, nKvHeads, ctx.rope), v: backend.upload(v, [m, width]) };
  };
  // One forward call: the step is announced, then every layer attends (as LlamaModel.forward does).
  const step = async (start: number, m: number): Promise<Float32Array[]> => {
    state.beginStep({ start, m });
    const outs: Tensor[] = [];
    for (let l = 0; l < nLayers; l++) outs.push(await state.attend(inputs(l, start, m)));
    state.endStep();
    const host: Float32Array[] = [];
    for (const t of outs) host.push((await backend.read(t)) as Float32Array);
    return host;
  };
  // Like the engine: the prompt minus its last token in chunks, then the last token alone.
  const cuts: number[] = [];
  for (let start = 0; start < o.promptLen - 1; start += chunk) cuts.push(start);
  cuts.push(o.promptLen - 1, o.promptLen);
  let prefillLast: Float32Array[] = [];
  if (o.layerMajor) {
    state.beginStep({ start: 0, m: o.promptLen, layerMajor: true });
    for (let l = 0; l < nLayers; l++) {
      for (let i = 0; i + 1 < cuts.length; i++) {
        const out = await state.attend(inputs(l, cuts[i], cuts[i + 1] - cuts[i]));
        if (i + 2 === cuts.length) prefillLast.push((await backend.read(out)) as Float32Array);
        o.onPrefillUnit?.(state);
      }
      await state.endPrefillLayer?.(l);
      o.onPrefillUnit?.(state);
    }
    state.endStep();
  } else {
    for (let i = 0; i + 2 < cuts.length; i++) await step(cuts[i], cuts[i + 1] - cuts[i]);
    prefillLast = await step(o.promptLen - 1, 1);
  }
  await state.endPrefill();
  const decode: Float32Array[][] = [];
  for (let s = 0; s < o.steps; s++) {
    decode.push(await step(o.promptLen + s, 1));
    await o.onDecodeStep?.(state, s);
  }
  return { state, prefillLast, decode };
}

/** ||a - b|| / ||b|| over all steps and layers. */
export function relErr(a: Float32Array[][], b: Float32Array[][]): number {
  let num = 0;
  let den = 0;
  for (let s = 0; s < b.length; s++) {
    for (let l = 0; l < b[s].length; l++) {
      for (let i = 0; i < b[s][l].length; i++) {
        num += (a[s][l][i] - b[s][l][i]) ** 2;
        den += b[s][l][i] ** 2;
      }
    }
  }
  return Math.sqrt(num / den);
}
