// A decode-only KvCacheState built straight from a prefill recording, one ResearchLayer per model layer.
import type { KvAppendInput, KvCacheState, KvMemoryReport, KvStep, KvStepStats, LayerAttentionInput, RopeSpec, Tensor } from '@shadowkv/core';
import { emptyStepStats, ShapeError } from '@shadowkv/core';
import { lowRankFactors, randomizedSvd } from '@shadowkv/lowrank-svd';
import { allocateRanks } from '@shadowkv/kv-policies';
import type { Engine } from 'shadowkv';
import type { PrefillRecording } from 'shadowkv/bench';
import { isSparseLayer, rankOf, type ResearchConfig } from './research-config.js';
import { ResearchLayer, type LayerStepDiagnostics } from './research-layer.js';

/** Per-prompt host data shared by every config run on it (exact keys, values, SVDs by layer and rank). */
export class PromptData {
  readonly keys: Float32Array[] = []; // per layer, head-major [nKvHeads, promptLen, headDim]
  readonly values: Float32Array[] = []; // per layer, head-major [nKvHeads, promptLen, headDim]
  private readonly low = new Map<string, Float32Array>();
  private readonly ranks = new Map<number, number[]>();

  constructor(
    readonly rec: PrefillRecording,
    private readonly nKvHeads: number,
    private readonly headDim: number,
    private readonly rope: RopeSpec,
  ) {
    for (let l = 0; l < rec.kPre.length; l++) {
      this.keys.push(headMajor(ropeRows(rec.kPre[l], rec.promptLen, nKvHeads, rope), rec.promptLen, nKvHeads, headDim));
      this.values.push(headMajor(rec.v[l], rec.promptLen, nKvHeads, headDim));
    }
  }

  /** Ranks per layer from allocateRanks with mean `rank`, spectra from a rank-min(2·rank, width) SVD. */
  allocated(rank: number): number[] {
    let r = this.ranks.get(rank);
    if (!r) {
      const L = this.rec.promptLen;
      const width = this.nKvHeads * this.headDim;
      const maxRank = Math.min(2 * rank, width, L);
      const spectra = this.rec.kPre.map((k) => randomizedSvd(k, L, width, { rank: maxRank, oversample: 10, powerIterations: 2, seed: 0 }).s);
      const energy = this.rec.kPre.map((k) => k.reduce((a, x) => a + x * x, 0));
      r = allocateRanks(spectra, rank * spectra.length, 1, maxRank, energy);
      this.ranks.set(rank, r);
    }
    return r;
  }

  /** Post-RoPE keys rebuilt from the rank-`rank` randomized SVD the policy computes (same options), head-major. */
  lowKeys(layer: number, rank: number): Float32Array {
    const key = `${layer}/${rank}`;
    let k = this.low.get(key);
    if (!k) {
      const L = this.rec.promptLen;
      const width = this.nKvHeads * this.headDim;
      const svd = randomizedSvd(this.rec.kPre[layer], L, width, { rank, oversample: 10, powerIterations: 2, seed: 0 });
      const { a, b } = lowRankFactors(svd);
      const pre = new Float32Array(L * width); // [promptLen, width] = A·B
      for (let t = 0; t < L; t++) {
        for (let r = 0; r < svd.rank; r++) {
          const at = a[t * svd.rank + r];
          for (let j = 0; j < width; j++) pre[t * width + j] += at * b[r * width + j];
        }
      }
      k = headMajor(ropeRows(pre, L, this.nKvHeads, this.rope), L, this.nKvHeads, this.headDim);
      this.low.set(key, k);
    }
    return k;
  }
}

/** Decode state of one config on one prompt; collects every layer's step diagnostics. */
export class ResearchState implements KvCacheState {
  readonly phase = 'decode' as const;
  private length: number;
  private readonly layers: ResearchLayer[] = [];
  /** diags[layer][step] */
  readonly diags: LayerStepDiagnostics[][] = [];
  /** Ranks per layer used on this prompt. */
  readonly ranks: number[];

  constructor(
    private readonly engine: Engine,
    readonly cfg: ResearchConfig,
    data: PromptData,
    needle: number[],
    windowQueries?: Float32Array[],
    diagnostics = true,
  ) {
    const c = engine.model.config;
    this.length = data.rec.promptLen;
    const allocated = cfg.rankAllocation === 'energy' ? data.allocated(cfg.rank as number) : undefined;
    this.ranks = Array.from({ length: c.nLayers }, (_, l) => rankOf(cfg, l, allocated));
    for (let l = 0; l < c.nLayers; l++) {
      const sparse = isSparseLayer(cfg, l);
      const needLow = sparse && (cfg.keys === 'lowrank' || cfg.selection === 'oracle-lowrank' || cfg.selection === 'refine');
      this.layers.push(
        new ResearchLayer(cfg, l, {
          nHeads: c.nHeads,
          nKvHeads: c.nKvHeads,
          headDim: c.headDim,
          promptLen: data.rec.promptLen,
          keys: data.keys[l],
          lowKeys: needLow ? data.lowKeys(l, this.ranks[l]) : undefined,
          values: data.values[l],
          needle,
          windowQueries: windowQueries?.[l],
          diagnostics,
        }),
      );
      this.diags.push([]);
    }
  }

  get seqLen(): number {
    return this.length;
  }

  beginStep(step: KvStep): void {
    if (step.m !== 1 || step.start !== this.length) {
      throw new ShapeError('research.beginStep', `decode takes one token per call at position ${this.length}, got ${step.m} at ${step.start}`);
    }
  }

  endStep(): void {
    this.length++;
  }

  async attend(input: LayerAttentionInput): Promise<Tensor> {
    const { backend } = this.engine;
    const q = (await backend.read(input.q)) as Float32Array;
    const k = (await backend.read(input.k)) as Float32Array;
    const v = (await backend.read(input.v)) as Float32Array;
    const { out, diag } = this.layers[input.layer].step(q, k, v);
    this.diags[input.layer].push(diag);
    return backend.upload(out, [1, out.length]);
  }

  append(_input: KvAppendInput): void {
    throw new ShapeError('research.append', 'a research state is built from a recording and only decodes');
  }

  endPrefill(): void {}

  memory(): KvMemoryReport {
    return { fastBytes: researchFastBytes(this.cfg, this.engine, this.length, this.ranks), slowBytes: 0, denseBytes: 0 };
  }

  stats(): KvStepStats {
    return emptyStepStats();
  }

  dispose(): void {}
}

/**
 * Fast-side bytes the shadowkv policy would hold for this config at a prompt of promptLen tokens (f32, before any
 * generated token): rank-r A rows and B, landmarks, budget + local + outlier K/V rows; dense layers keep all K/V.
 */
export function researchFastBytes(cfg: ResearchConfig, engine: Engine, promptLen: number, ranks?: number[]): number {
  const { nLayers, nKvHeads, headDim } = engine.model.config;
  let floats = 0;
  for (let l = 0; l < nLayers; l++) {
    if (!isSparseLayer(cfg, l)) {
      floats += 2 * nKvHeads * promptLen * headDim;
      continue;
    }
    const r = ranks ? ranks[l] : rankOf(cfg, l);
    const nChunks = Math.floor(promptLen / cfg.chunkSize) - cfg.localChunks;
    const localStart = nChunks * cfg.chunkSize;
    const nStatic = promptLen - localStart + cfg.outliers * cfg.chunkSize;
    floats += localStart * r + nKvHeads * r * headDim + nKvHeads * (nChunks - cfg.outliers) * headDim + 2 * nKvHeads * (cfg.budget + nStatic) * headDim;
  }
  return floats * 4;
}

/** RoPE of token-major rows [seqLen, nKvHeads*headDim] at positions 0..seqLen-1 (Llama's rotate-half pairing). */
function ropeRows(x: Float32Array, seqLen: number, nKvHeads: number, rope: RopeSpec): Float32Array {
  const d = rope.headDim;
  const half = d / 2;
  const out = new Float32Array(x.length);
  for (let t = 0; t < seqLen; t++) {
    for (let i = 0; i < half; i++) {
      const ang = t * rope.invFreq[i];
      const c = Math.cos(ang) * rope.attentionScaling;
      const s = Math.sin(ang) * rope.attentionScaling;
      for (let h = 0; h < nKvHeads; h++) {
        const o = (t * nKvHeads + h) * d;
        const x1 = x[o + i];
        const x2 = x[o + i + half];
        out[o + i] = x1 * c - x2 * s;
        out[o + i + half] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}

/** Token-major [seqLen, nKvHeads*headDim] → head-major [nKvHeads, seqLen, headDim]. */
function headMajor(x: Float32Array, seqLen: number, nKvHeads: number, headDim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let t = 0; t < seqLen; t++) {
    for (let h = 0; h < nKvHeads; h++) out.set(x.subarray((t * nKvHeads + h) * headDim, (t * nKvHeads + h + 1) * headDim), (h * seqLen + t) * headDim);
  }
  return out;
}
