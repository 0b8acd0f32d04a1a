// ShadowKV's parameters: defaults from the paper's reference setup, and the checks that say what to change.
import { InvalidOptionError, type KvModelShape } from '@shadowkv/core';
import { checkBool, checkInt, checkPromptFits } from './option-checks.js';

/** Parameters of the shadowkv policy; every field is optional. */
export interface ShadowKvParams {
  /** Rank of the low-rank pre-RoPE keys, <= min(prompt length, nKvHeads*headDim). Default 160. */
  rank?: number;
  /** Sparse budget in tokens fetched per step (a multiple of chunkSize, below the prompt length). Default 2048. */
  budget?: number;
  /** Tokens per chunk (the unit of landmarks, selection and value fetches). Default 8. */
  chunkSize?: number;
  /** Full chunks at the end of the prompt kept exact (plus the partial tail). Default 4. */
  localChunks?: number;
  /** Chunks per KV head kept exact because their landmark represents them badly. Default 48. */
  outliers?: number;
  /**
   * How the low-rank keys' SVD is computed. 'exact': the exact leading components (through the Gram matrix of
   * the keys, as the authors' torch.svd gives them). 'randomized': the randomized range finder with
   * svdOversample and svdPowerIterations (error within ~1% of the optimum, cheaper for wide keys).
   * 'auto': exact when nKvHeads*headDim <= SVD_EXACT_MAX_WIDTH (512), where it costs at most ~2x the
   * randomized one, else randomized. Default 'auto'.
   */
  svd?: 'auto' | 'exact' | 'randomized';
  /**
   * Extra random directions of the randomized SVD. Default 10. When rank + svdOversample reaches
   * min(prompt length, nKvHeads*headDim) the SVD is computed exactly.
   */
  svdOversample?: number;
  /** Power iterations of the randomized SVD (more help slowly decaying spectra). Default 2. */
  svdPowerIterations?: number;
  /** Seed of the randomized SVD's test matrix. Default 0. */
  svdSeed?: number;
  /**
   * Two-stage selection: landmarks nominate `refine` × budget/chunkSize chunks per KV head, then the softmax mass
   * of their rebuilt rank-r keys picks budget/chunkSize of them (sparse-select's refineChunks). 1 is the authors'
   * one-stage landmark selection. Costs a rebuild and a score of refine × budget keys per step; no fast memory is
   * kept for it. Default 1.
   */
  refine?: number;
  /**
   * How the rank is spread over layers. 'uniform': every layer gets `rank` (the authors'). 'energy': `rank` is
   * the mean; layers whose pre-RoPE key spectrum decays slowly get more, others less (allocateRanks, each layer
   * between 1 and min(2·rank, nKvHeads*headDim)), so the low-rank keys cost the same fast memory. Default 'uniform'.
   */
  rankAllocation?: 'uniform' | 'energy';
  /** Keep the offloaded values as int8 with one scale per chunk and head (about 4x less slow memory). Default false. */
  quantizeValues?: boolean;
}

export type ResolvedShadowKvParams = Required<ShadowKvParams>;

export const SHADOWKV_DEFAULTS: ResolvedShadowKvParams = {
  rank: 160,
  budget: 2048,
  chunkSize: 8,
  localChunks: 4,
  outliers: 48,
  svd: 'auto',
  svdOversample: 10,
  svdPowerIterations: 2,
  svdSeed: 0,
  quantizeValues: false,
  refine: 1,
  rankAllocation: 'uniform',
};

/** Fills defaults for the fields not given; other keys of `p` (other policies' options) are ignored. */
export function resolveShadowKvParams(p: ShadowKvParams): ResolvedShadowKvParams {
  const out = { ...SHADOWKV_DEFAULTS };
  for (const k of Object.keys(SHADOWKV_DEFAULTS) as (keyof ShadowKvParams)[]) {
    if (p[k] !== undefined) (out as Record<string, unknown>)[k] = p[k];
  }
  return out;
}

/** Checks the parameters alone (no prompt needed). */
export function checkShadowKvParams(p: ResolvedShadowKvParams): void {
  checkInt('rank', p.rank, 1);
  checkInt('chunkSize', p.chunkSize, 1);
  checkInt('budget', p.budget, p.chunkSize, `the budget is in tokens and covers at least one chunk of ${p.chunkSize}`);
  checkInt('localChunks', p.localChunks, 0);
  checkInt('outliers', p.outliers, 0);
  checkInt('svdOversample', p.svdOversample, 0);
  checkInt('svdPowerIterations', p.svdPowerIterations, 0);
  checkInt('svdSeed', p.svdSeed, 0);
  checkBool('quantizeValues', p.quantizeValues);
  checkInt('refine', p.refine, 1, 'it is the number of candidate chunks per selected chunk, 1 for landmark selection only');
  if (p.svd !== 'auto' && p.svd !== 'exact' && p.svd !== 'randomized') {
    throw new InvalidOptionError('svd', `must be 'auto', 'exact' or 'randomized', got ${String(p.svd)}`);
  }
  if (p.rankAllocation !== 'uniform' && p.rankAllocation !== 'energy') {
    throw new InvalidOptionError('rankAllocation', `must be 'uniform' or 'energy', got ${String(p.rankAllocation)}`);
  }
  if (p.budget % p.chunkSize !== 0) {
    const lo = p.budget - (p.budget % p.chunkSize);
    throw new InvalidOptionError('budget', `${p.budget} is not a multiple of chunkSize ${p.chunkSize}; use ${lo} or ${lo + p.chunkSize}`);
  }
}

/**
 * Widest key matrix (nKvHeads*headDim) for which svd 'auto' computes the exact SVD. Measured per layer at 8K
 * tokens and rank 32 on one loaded core of the 2-core CI machine, exact vs randomized: 155 vs 270 ms at 128
 * columns, 388 vs 319 ms at 256, 1.76 vs 1.03 s at 512; the width³ eigen-decomposition makes 1024 ~8x dearer.
 */
export const SVD_EXACT_MAX_WIDTH = 512;

/** The oversampling that gives the SVD method asked for (rank + oversample >= width makes it exact). */
export function svdOversampleFor(p: ResolvedShadowKvParams, width: number): number {
  const exact = p.svd === 'exact' || (p.svd === 'auto' && width <= SVD_EXACT_MAX_WIDTH);
  return exact ? width : p.svdOversample;
}

/** The largest rank one layer may get under rankAllocation 'energy' (the rank its SVD is computed at). */
export function energyMaxRank(rank: number, model: KvModelShape, promptLen: number): number {
  return Math.min(2 * rank, model.nKvHeads * model.headDim, promptLen);
}

/** Where the prompt's tokens go: chunks scored by landmarks, and the exact local window after them. */
export interface ShadowKvLayout {
  /** Chunks before the local window (landmarks and outliers are taken from these). */
  nChunks: number;
  /** First token of the local window: nChunks * chunkSize. */
  localStart: number;
  /** Tokens of the local window: localChunks full chunks plus the tail that does not fill a chunk. */
  nLocal: number;
  /** Chunks left to select from once outliers are removed. */
  nLandmarks: number;
  /** Chunks selected per step: budget / chunkSize. */
  nSelect: number;
}

/** Splits a prompt of promptLen tokens; throws InvalidOptionError if the parameters do not fit it. */
export function shadowKvLayout(p: ResolvedShadowKvParams, model: KvModelShape, promptLen: number, maxSeqLen: number): ShadowKvLayout {
  checkShadowKvParams(p);
  checkPromptFits('shadowkv', promptLen, maxSeqLen);
  const width = model.nKvHeads * model.headDim;
  if (p.budget >= promptLen) {
    throw new InvalidOptionError('budget', `${p.budget} tokens must be smaller than the prompt (${promptLen} tokens); lower the budget, or use the dense policy for short prompts`);
  }
  if (p.rank > Math.min(promptLen, width)) {
    throw new InvalidOptionError(
      'rank',
      `${p.rank} exceeds min(prompt length ${promptLen}, nKvHeads*headDim ${width}) = ${Math.min(promptLen, width)}, the largest rank the pre-RoPE key matrix has; lower the rank`,
    );
  }
  const nChunks = Math.floor(promptLen / p.chunkSize) - p.localChunks;
  const nSelect = p.budget / p.chunkSize;
  const need = p.outliers + nSelect;
  if (nChunks < need) {
    const avail = Math.max(nChunks, 0);
    const option = nSelect > avail ? 'budget' : 'outliers';
    throw new InvalidOptionError(
      option,
      `outliers (${p.outliers}) + budget/chunkSize (${nSelect}) = ${need} chunks, but a prompt of ${promptLen} tokens has only ${avail} chunks of ${p.chunkSize} before the ${p.localChunks}-chunk local window; lower outliers, budget or localChunks`,
    );
  }
  const localStart = nChunks * p.chunkSize;
  return { nChunks, localStart, nLocal: promptLen - localStart, nLandmarks: nChunks - p.outliers, nSelect };
}
