// ShadowKV's parameters that the user did not give, derived from the model and the prompt by one written rule.
import type { KvModelShape } from '@shadowkv/core';

/**
 * Below this many prompt tokens a ShadowKV state whose budget is derived stays dense (and says so): at 1K tokens
 * on needle-llama ShadowKV decoded at 0.80x of dense on the CPU (BENCHMARKS.md, budget 256) and its low-rank keys,
 * landmarks, outliers, local window and fetch buffers still cost about half the dense bytes, so compression
 * cannot pay. An explicit budget is always honoured (and strictly checked) instead.
 */
export const SHADOWKV_MIN_CONTEXT = 1024;

/** The paper's settings (Llama-3-8B at 128K tokens) are the caps: rank 160, budget 2048, 48 outliers. */
export const SHADOWKV_RANK_CAP = 160;
export const SHADOWKV_BUDGET_CAP = 2048;
/** The budget never goes below this many tokens (16 chunks of 8): fewer misses needles on niah-dev (73.3% at 64). */
export const SHADOWKV_BUDGET_FLOOR = 128;
/** Share of the prompt fetched per step: 1/16 gives budget 256 at 4K, the setting measured at 93.3% on niah-dev. */
export const SHADOWKV_BUDGET_SHARE = 1 / 16;
/** Outlier chunks per selected chunk: the paper's 48 outliers for 256 selected chunks. */
export const SHADOWKV_OUTLIER_SHARE = 48 / 256;

/** What the user gave (undefined: derive it) and the parameters every rule needs. */
export interface ShadowKvDerivationInput {
  rank?: number;
  budget?: number;
  outliers?: number;
  chunkSize: number;
  localChunks: number;
  /** With spread > 0 a derived rank gives back the memory of the spread vectors (spreadGroups of them per chunk). */
  spread?: number;
  spreadGroups?: number;
}

export interface ShadowKvDerived {
  rank: number;
  budget: number;
  outliers: number;
  /** True when the budget was derived and the prompt is shorter than SHADOWKV_MIN_CONTEXT: the state stays dense. */
  dense: boolean;
  /** The names of the parameters derived here (not given by the user). */
  derived: string[];
  /** One sentence for the user when something was derived or the state stays dense. */
  note?: string;
}

/**
 * The rule, for each parameter not given:
 * * rank = min(160, ⌈nKvHeads·headDim / 4⌉, prompt length): a quarter of the key width (32 of 128 columns for
 *   needle-llama, the measured setting) up to the paper's 160 (reached at width 640, e.g. Llama-3-8B's 1024);
 *   with spread > 0 it gives back the spread's fast memory, ⌈nKvHeads·G / chunkSize⌉ floats per token for G
 *   half widths per chunk and head (spreadGroups, or headDim), so the fast side stays that of the authors' method
 *   (needle-llama: 32 - 2·64/8 = 16);
 * * budget = the prompt length / 16 rounded down to whole chunks, at least 128 and at most 2048 tokens (the paper's
 *   2048 from 32K tokens on), and small enough to leave room for the outliers before the local window;
 * * outliers = round(48/256 × budget/chunkSize), at least 1 (the paper's 48 at budget 2048, 6 at 256);
 * * with a derived budget and a prompt under SHADOWKV_MIN_CONTEXT tokens the cache stays dense.
 * Given values are kept as they are (the caller checks them strictly against the prompt).
 */
export function deriveShadowKvParams(given: ShadowKvDerivationInput, model: KvModelShape, promptLen: number): ShadowKvDerived {
  const derived: string[] = [];
  const width = model.nKvHeads * model.headDim;
  let rank = given.rank;
  if (rank === undefined) {
    rank = Math.max(1, Math.min(SHADOWKV_RANK_CAP, Math.ceil(width / 4), promptLen));
    if ((given.spread ?? 0) > 0) rank = Math.max(1, rank - Math.ceil((model.nKvHeads * (given.spreadGroups || model.headDim)) / given.chunkSize));
    derived.push('rank');
  }
  const dense = given.budget === undefined && promptLen < SHADOWKV_MIN_CONTEXT;
  const c = given.chunkSize;
  // Chunks that landmarks and outliers are taken from (those before the exact local window).
  const chunksBeforeLocal = Math.max(0, Math.floor(promptLen / c) - given.localChunks);
  let budget = given.budget;
  let outliers = given.outliers;
  if (budget === undefined) {
    const share = Math.floor((promptLen * SHADOWKV_BUDGET_SHARE) / c) * c;
    budget = Math.min(SHADOWKV_BUDGET_CAP, Math.max(SHADOWKV_BUDGET_FLOOR, share));
    budget = Math.max(c, Math.floor(budget / c) * c);
    derived.push('budget');
  }
  if (outliers === undefined) {
    outliers = Math.max(1, Math.round(SHADOWKV_OUTLIER_SHARE * (budget / c)));
    derived.push('outliers');
  }
  if (!dense && chunksBeforeLocal > 0) {
    // Derived values shrink to fit the prompt (an explicit value that does not fit stays an error).
    if (derived.includes('budget') && budget / c + outliers > chunksBeforeLocal) {
      budget = Math.max(c, Math.min(budget, (chunksBeforeLocal - (derived.includes('outliers') ? 1 : outliers)) * c));
    }
    if (derived.includes('outliers') && budget / c + outliers > chunksBeforeLocal) outliers = Math.max(0, chunksBeforeLocal - budget / c);
  }
  let note: string | undefined;
  if (dense) {
    note = `shadowkv: the prompt has ${promptLen} tokens, under the ${SHADOWKV_MIN_CONTEXT} where compression pays, so the cache stays dense (give --budget to compress anyway)`;
  } else if (derived.length > 0) {
    note = `shadowkv: derived from the model (key width ${width}) and the ${promptLen}-token prompt: ${derived.map((k) => `${k} ${{ rank, budget, outliers }[k as 'rank']}`).join(', ')}`;
  }
  return { rank, budget, outliers, dense, derived, note };
}
