// ShadowKV's parameters: defaults from the paper's reference setup, and the checks that say what to change.
import type { KvModelShape } from '@shadowkv/core';
import { checkPromptFits } from './option-checks.js';
import { PolicyParamsError, resolveParams, type ParamProblem, type ParamSpec, type ParamsOf, type PolicySchema } from './param-schema.js';
import { deriveShadowKvParams, SHADOWKV_MIN_CONTEXT, type ShadowKvDerived } from './shadowkv-defaults.js';

/** No model has a context this long: a larger budget is a typo, and hints should not suggest one. */
export const SHADOWKV_MAX_BUDGET = 2 ** 24;

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
  {
    name: 'rank',
    type: 'int',
    min: 1,
    rule: 'at most min(prompt length, nKvHeads*headDim); not given: min(160, ⌈nKvHeads*headDim/4⌉, prompt length), less ⌈nKvHeads*(spreadGroups or headDim)/chunkSize⌉ with spread',
    doc: 'Rank of the low-rank pre-RoPE keys. Not given: derived from the key width (deriveShadowKvParams).',
  },
  {
    name: 'budget',
    type: 'int',
    min: 1,
    max: SHADOWKV_MAX_BUDGET,
    hint: 'it is the number of tokens fetched per decode step, well below the prompt length; leave it out to derive it from the prompt',
    rule: `a multiple of chunkSize, below the prompt length; not given: prompt/16 in whole chunks within [128, 2048], and under ${SHADOWKV_MIN_CONTEXT} prompt tokens the cache stays dense`,
    check: (budget: number, p) => {
      const chunk = p.chunkSize as number;
      if (budget < chunk) return `must be an integer >= ${chunk}, got ${budget}; the budget is in tokens and covers at least one chunk of ${chunk}`;
      const lo = budget - (budget % chunk);
      return budget % chunk === 0 ? undefined : `${budget} is not a multiple of chunkSize ${chunk}; use ${lo} or ${lo + chunk}`;
    },
    doc: 'Sparse budget: tokens whose keys are rebuilt and values fetched per decode step. Not given: derived from the prompt length.',
  },
  { name: 'chunkSize', type: 'int', default: 8, min: 1, doc: 'Tokens per chunk (the unit of landmarks, selection and value fetches).' },
  { name: 'localChunks', type: 'int', default: 4, min: 0, doc: 'Full chunks at the end of the prompt kept exact (plus the partial tail).' },
  {
    name: 'outliers',
    type: 'int',
    min: 0,
    rule: 'not given: round(48/256 × budget/chunkSize), at least 1',
    doc: 'Chunks per KV head kept exact because their landmark represents them badly. Not given: scaled with the budget.',
  },
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
    type: 'number',
    default: 1,
    min: 1,
    hint: 'it is the number of candidate chunks per selected chunk, 1 for landmark selection only',
    doc: "Two-stage selection: landmarks nominate ⌈refine × budget/chunkSize⌉ chunks per KV head, their rebuilt keys' softmax mass picks the budget (1: the authors' landmark selection; fractions allowed).",
  },
  {
    // Bounds the refine stage's rebuild once keys are held (docs/shadowkv-accuracy.md section 9); keeps no extra fast memory.
    name: 'refineFresh',
    type: 'number',
    default: 0,
    min: 0,
    hint: 'it is the number of not-yet-held candidate chunks per selected chunk rebuilt per step once a selection is held, 0 for all of refine',
    doc: "With refine > 1, once the last step's selection is held (its rebuilt keys are in the decode buffer): the candidates are that selection plus the landmarks' ⌈refineFresh × budget/chunkSize⌉ best other chunks, so only those are rebuilt per step. 0: the landmarks' ⌈refine × budget/chunkSize⌉ best every step. The first step (nothing held) always takes refine's candidates.",
  },
  {
    // Doubles the landmarks' fast memory (a center and a half-width vector per chunk) and the landmark scoring work.
    name: 'spread',
    type: 'number',
    default: 0,
    min: 0,
    hint: "it weighs each chunk's key range in its score: 0 for the authors' mean landmarks, 1 for Quest's upper bound of its best key",
    doc: "Chunk scores see the range of the chunk's keys: logit q·center + spread·Σ_d |q_d|·halfWidth_d per dimension's min/max (0: the authors' mean landmarks; 1: Quest's upper bound of the chunk's best key). Doubles the landmarks' fast memory.",
  },
  {
    name: 'spreadGroups',
    type: 'int',
    default: 0,
    min: 0,
    rule: '0, or a divisor of headDim',
    doc: "With spread: the key ranges' half widths are kept as the largest of each group of headDim/spreadGroups consecutive dimensions (a looser bound; landmark memory and work grow by spreadGroups/headDim instead of 2x). 0: one per dimension (Quest's exact bound).",
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

/** The parameters once defaults are filled: rank, budget and outliers stay undefined until a prompt derives them. */
export type ShadowKvSpec = Omit<ResolvedShadowKvParams, 'rank' | 'budget' | 'outliers'> & Pick<ShadowKvParams, 'rank' | 'budget' | 'outliers'>;

/** Fills defaults and checks the parameters (every problem in one error); other keys of `p` are ignored. */
export function resolveShadowKvParams(p: ShadowKvParams): ShadowKvSpec {
  return resolveParams<ShadowKvSpec>(SHADOWKV_SCHEMA, p);
}

/** The parameters for one prompt: the given ones, the rest derived (deriveShadowKvParams), and how. */
export function completeShadowKvParams(spec: ShadowKvSpec, model: KvModelShape, promptLen: number): { params: ResolvedShadowKvParams; derivation: ShadowKvDerived } {
  const derivation = deriveShadowKvParams(spec, model, promptLen);
  return { params: { ...spec, rank: derivation.rank, budget: derivation.budget, outliers: derivation.outliers }, derivation };
}

/** What a result reports: every value used, plus which were derived and the note, if any. */
export function chosenShadowKvParams(params: ResolvedShadowKvParams, d: ShadowKvDerived): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const { name } of SHADOWKV_PARAMS) out[name] = params[name];
  if (d.derived.length > 0) out.derived = d.derived.join(',');
  if (d.dense) out.mode = 'dense';
  if (d.note) out.note = d.note;
  return out;
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

/**
 * Splits a prompt of promptLen tokens; throws one PolicyParamsError listing every parameter that does not fit it.
 * `derived`: names of parameters derived rather than given (named as such in the messages).
 */
export function shadowKvLayout(p: ResolvedShadowKvParams, model: KvModelShape, promptLen: number, maxSeqLen: number, derived: readonly string[] = []): ShadowKvLayout {
  checkPromptFits('shadowkv', promptLen, maxSeqLen);
  const width = model.nKvHeads * model.headDim;
  const problems: ParamProblem[] = [];
  const tag = (k: string) => (derived.includes(k) ? ' (derived)' : '');
  if (p.budget >= promptLen) {
    const fit = Math.max(p.chunkSize, Math.floor(promptLen / 16 / p.chunkSize) * p.chunkSize);
    problems.push({ option: 'budget', message: `${p.budget}${tag('budget')} tokens must be smaller than the prompt (${promptLen} tokens); e.g. ${fit} (1/16 of it), leave it out to derive it, or use the dense policy for short prompts` });
  }
  if (p.rank > Math.min(promptLen, width)) {
    problems.push({
      option: 'rank',
      message: `${p.rank}${tag('rank')} exceeds min(prompt length ${promptLen}, nKvHeads*headDim ${width}) = ${Math.min(promptLen, width)}, the largest rank the pre-RoPE key matrix has; lower the rank (e.g. ${Math.max(1, Math.min(promptLen, Math.ceil(width / 4)))}) or leave it out to derive it`,
    });
  }
  const nChunks = Math.floor(promptLen / p.chunkSize) - p.localChunks;
  const nSelect = p.budget / p.chunkSize;
  const need = p.outliers + nSelect;
  if (nChunks < need && p.budget < promptLen) {
    const avail = Math.max(nChunks, 0);
    const option = nSelect > avail ? 'budget' : 'outliers';
    problems.push({
      option,
      message: `outliers (${p.outliers}${tag('outliers')}) + budget/chunkSize (${nSelect}${tag('budget')}) = ${need} chunks, but a prompt of ${promptLen} tokens has only ${avail} chunks of ${p.chunkSize} before the ${p.localChunks}-chunk local window; lower outliers, budget or localChunks`,
    });
  }
  if (problems.length > 0) throw new PolicyParamsError('shadowkv', problems);
  const localStart = nChunks * p.chunkSize;
  return { nChunks, localStart, nLocal: promptLen - localStart, nLandmarks: nChunks - p.outliers, nSelect };
}
