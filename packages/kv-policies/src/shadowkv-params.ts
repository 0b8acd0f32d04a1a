// ShadowKV's parameters: defaults from the paper's reference setup, and the checks that say what to change.
import { InvalidOptionError, type KvModelShape } from '@shadowkv/core';
import { checkPromptFits } from './option-checks.js';
import { resolveParams, type ParamSpec, type ParamsOf, type PolicySchema } from './param-schema.js';

/**
 * Widest key matrix (nKvHeads*headDim) for which svd 'auto' computes the exact SVD. Measured per layer at 8K
 * tokens and rank 32 on one loaded core of the 2-core CI machine, exact vs randomized: 155 vs 270 ms at 128
 * columns, 388 vs 319 ms at 256, 1.76 vs 1.03 s at 512; the width³ eigen-decomposition makes 1024 ~8x dearer.
 */
export const SVD_EXACT_MAX_WIDTH = 512;

/**
 * The parameters of the shadowkv policy, one row each: defaults (the paper's reference setup), checks, the CLI
 * flags, the inline `shadowkv:key=value` keys and the README table all come from this table.
 */
export const SHADOWKV_PARAMS = [
  { name: 'rank', type: 'int', default: 160, min: 1, doc: 'Rank of the low-rank pre-RoPE keys; at most min(prompt length, nKvHeads*headDim) (checked against the prompt).' },
  {
    name: 'budget',
    type: 'int',
    default: 2048,
    min: 1,
    rule: 'a multiple of chunkSize, below the prompt length',
    check: (budget: number, p) => {
      const chunk = p.chunkSize as number;
      if (budget < chunk) return `must be an integer >= ${chunk}, got ${budget}; the budget is in tokens and covers at least one chunk of ${chunk}`;
      const lo = budget - (budget % chunk);
      return budget % chunk === 0 ? undefined : `${budget} is not a multiple of chunkSize ${chunk}; use ${lo} or ${lo + chunk}`;
    },
    doc: 'Sparse budget: tokens whose keys are rebuilt and values fetched per decode step.',
  },
  { name: 'chunkSize', type: 'int', default: 8, min: 1, doc: 'Tokens per chunk (the unit of landmarks, selection and value fetches).' },
  { name: 'localChunks', type: 'int', default: 4, min: 0, doc: 'Full chunks at the end of the prompt kept exact (plus the partial tail).' },
  { name: 'outliers', type: 'int', default: 48, min: 0, doc: 'Chunks per KV head kept exact because their landmark represents them badly.' },
  {
    // 'exact' gives the leading components through the Gram matrix of the keys (as the authors' torch.svd does);
    // 'randomized' is the range finder (error within ~1% of the optimum, cheaper for wide keys).
    name: 'svd',
    type: 'enum',
    values: ['auto', 'exact', 'randomized'],
    default: 'auto',
    doc: `How the keys' SVD is computed: exact, randomized (svdOversample, svdPowerIterations), or auto: exact up to ${SVD_EXACT_MAX_WIDTH} key columns (nKvHeads*headDim), where it costs at most ~2x the randomized one.`,
  },
  { name: 'svdOversample', type: 'int', default: 10, min: 0, doc: 'Extra random directions of the randomized SVD; rank + svdOversample >= min(prompt length, nKvHeads*headDim) makes it exact.' },
  { name: 'svdPowerIterations', type: 'int', default: 2, min: 0, doc: 'Power iterations of the randomized SVD (more help slowly decaying spectra).' },
  { name: 'svdSeed', type: 'int', default: 0, min: 0, doc: "Seed of the randomized SVD's test matrix." },
  {
    // Costs a rebuild and a score of refine × budget keys per step; keeps no extra fast memory.
    name: 'refine',
    type: 'int',
    default: 1,
    min: 1,
    hint: 'it is the number of candidate chunks per selected chunk, 1 for landmark selection only',
    doc: "Two-stage selection: landmarks nominate refine × budget/chunkSize chunks per KV head, their rebuilt keys' softmax mass picks the budget (1: the authors' landmark selection).",
  },
  {
    name: 'rankAllocation',
    type: 'enum',
    values: ['uniform', 'energy'],
    default: 'uniform',
    doc: "Rank per layer: uniform (the authors'), or energy: rank is the mean, layers whose key spectrum decays slowly get more (between 1 and min(2·rank, nKvHeads*headDim)), same fast memory.",
  },
  { name: 'quantizeValues', type: 'boolean', default: false, doc: 'Keep the offloaded values as int8 with one scale per chunk and head (about 4x less slow memory).' },
  {
    // The fold rule (generated tokens and later turns): shadowkv-layer.ts, docs/sessions.md.
    name: 'exactTail',
    type: 'int',
    default: 1024,
    min: 0,
    rule: '0, or at least (localChunks + 2) × chunkSize',
    check: (tail: number, p) => {
      const need = ((p.localChunks as number) + 2) * (p.chunkSize as number);
      return tail === 0 || tail >= need ? undefined : `${tail} must be 0 (never fold) or at least (localChunks + 2) × chunkSize = ${need}, so that a fold has a whole chunk beyond the exact local window`;
    },
    doc: 'Tokens after the prompt (generated, later turns) kept exact; one more folds the oldest whole chunks into the low-rank keys (projected on the existing basis, no new SVD), landmarks and value store, keeping the last localChunks exact. 0: never fold.',
  },
] as const satisfies readonly ParamSpec[];

export const SHADOWKV_SCHEMA: PolicySchema = { policy: 'shadowkv', params: SHADOWKV_PARAMS };

/** Parameters of the shadowkv policy; every field is optional (SHADOWKV_PARAMS documents them). */
export type ShadowKvParams = ParamsOf<typeof SHADOWKV_PARAMS>;

export type ResolvedShadowKvParams = Required<ShadowKvParams>;

/** Fills defaults and checks the parameters (every problem in one error); other keys of `p` are ignored. */
export function resolveShadowKvParams(p: ShadowKvParams): ResolvedShadowKvParams {
  return resolveParams<ResolvedShadowKvParams>(SHADOWKV_SCHEMA, p);
}

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
