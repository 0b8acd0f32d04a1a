// Switches of the research variants of ShadowKV: what is selected, how selected keys are rebuilt, which layers are sparse.
import type { ShadowKvParams } from '@shadowkv/kv-policies';

/** How the chunks attended at a decode step are chosen. */
export type ResearchSelection =
  /** The authors' rule: softmax(q·landmarkᵀ) per query head, max over the group, top budget/chunkSize. */
  | 'landmark'
  /** Oracle: the chunks with the most exact attention mass (exact post-RoPE keys over the whole prompt). */
  | 'oracle'
  /** The same ranking as 'oracle' but computed with the rank-r rebuilt keys (what a low-rank scorer could reach). */
  | 'oracle-lowrank'
  /** Landmark scores summed (not maxed) over the group's query heads. */
  | 'landmark-sum'
  /** Landmark logit plus radiusAlpha·|q|·(largest distance of a chunk key from its landmark). */
  | 'radius'
  /**
   * Landmarks pick refineFactor·budget/chunkSize candidates; their rank-r keys' softmax mass picks the final chunks
   * (max over the group of each chunk's mass; the policy's refineChunks sums each token's group max instead).
   */
  | 'refine'
  /** Two vectors per chunk, the landmark and the chunk's largest-norm key; a chunk scores its better one. */
  | 'landmark+maxnorm'
  /** Quest's bound: per dimension min/max of the chunk's keys, logit = Σ_d max(q_d·min_d, q_d·max_d). */
  | 'quest'
  /** Landmark logit plus boundAlpha·Σ_d |q_d|·(largest |k_d - mean_d| over the chunk): a bound around the mean. */
  | 'meandev'
  /** Landmark logit plus boundAlpha·|q·w|, w the chunk's main deviation direction scaled to its largest coefficient. */
  | 'pc1'
  /** Two landmarks per chunk (means of its halves); a chunk scores its better one. */
  | 'sub2';

/** How the keys of the selected chunks are obtained. */
export type ResearchKeys =
  /** Rebuilt from the rank-r SVD of the pre-RoPE keys, RoPE applied at their positions (the authors' method). */
  | 'lowrank'
  /** Exact post-RoPE keys (isolates the selection loss). */
  | 'exact';

/** One research variant; every field but `name` has the authors' default. */
export interface ResearchConfig {
  name: string;
  budget: number;
  chunkSize: number;
  localChunks: number;
  outliers: number;
  /** One rank for every layer, or one per layer. */
  rank: number | number[];
  /** 'energy': `rank` (a number) is the mean, split over layers by allocateRanks on each prompt's key spectra. */
  rankAllocation: 'uniform' | 'energy';
  selection: ResearchSelection;
  keys: ResearchKeys;
  /** Candidates per selected chunk for 'refine'. */
  refineFactor: number;
  /** Weight of the radius term for 'radius'. */
  radiusAlpha: number;
  /** Weight of the spread term for 'meandev' and 'pc1' (1: a true upper bound for 'meandev'). */
  boundAlpha: number;
  /** The first stage of 'refine': which chunk score nominates the candidates. */
  nominator: 'landmark' | 'quest' | 'meandev' | 'pc1' | 'sub2';
  /** The second stage of 'refine': the candidates' rank-r rebuilt keys (softmax mass), or a bound rule's chunk score. */
  reranker: 'lowrank' | 'quest' | 'meandev' | 'pc1' | 'sub2';
  /**
   * Which chunks stay exact as outliers: 'mincos' (the authors': lowest landmark/key cosine) or 'query' (most
   * attention from the last queryWindow prompt queries, mean over the window of the group max).
   */
  outlierRule: 'mincos' | 'query';
  /** Prompt tokens whose queries rank chunks for outlierRule 'query'. */
  queryWindow: number;
  /** Layers that attend densely over exact keys (everything else is sparse). */
  denseLayers: number[];
  /** When set, only these layers are sparse (overrides denseLayers). */
  sparseLayers?: number[];
}

export const RESEARCH_DEFAULTS: Omit<ResearchConfig, 'name'> = {
  budget: 256,
  chunkSize: 8,
  localChunks: 4,
  outliers: 4,
  rank: 32,
  rankAllocation: 'uniform',
  selection: 'landmark',
  keys: 'lowrank',
  refineFactor: 4,
  radiusAlpha: 1,
  boundAlpha: 1,
  nominator: 'landmark',
  reranker: 'lowrank',
  outlierRule: 'mincos',
  queryWindow: 16,
  denseLayers: [],
};

/** Whether `layer` runs the sparse path under `c`. */
export function isSparseLayer(c: ResearchConfig, layer: number): boolean {
  if (c.sparseLayers) return c.sparseLayers.includes(layer);
  return !c.denseLayers.includes(layer);
}

/** The rank of `layer` under `c` (per-prompt ranks, when allocated, are passed in). */
export function rankOf(c: ResearchConfig, layer: number, allocated?: number[]): number {
  if (allocated) return allocated[layer];
  return typeof c.rank === 'number' ? c.rank : c.rank[layer];
}

/** A config from defaults plus overrides. */
export function researchConfig(name: string, over: Partial<ResearchConfig> = {}): ResearchConfig {
  return { name, ...RESEARCH_DEFAULTS, ...over };
}

/** A run of the real shadowkv policy (replayed from the recording), next to the research variants. */
export interface PolicyRun {
  name: string;
  policy: ShadowKvParams;
}

/** A policy run with the given shadowkv parameters. */
export function policyRun(name: string, policy: ShadowKvParams): PolicyRun {
  return { name, policy };
}
