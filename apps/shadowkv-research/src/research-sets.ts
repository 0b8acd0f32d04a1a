// Named lists of research variants: the diagnosis experiments of docs/shadowkv-accuracy.md.
import { policyRun, researchConfig, type PolicyRun, type ResearchConfig } from './research-config.js';

const LAYERS = [0, 1, 2, 3, 4, 5];

export const RESEARCH_SETS: Record<string, () => (ResearchConfig | PolicyRun)[]> = {
  /** Selection loss vs reconstruction loss at the two budgets. */
  diag: () =>
    [256, 128].flatMap((budget) => [
      researchConfig(`ref B${budget}`, { budget }),
      researchConfig(`exactkeys B${budget}`, { budget, keys: 'exact' }),
      researchConfig(`oracle B${budget}`, { budget, selection: 'oracle' }),
      researchConfig(`oracle+exact B${budget}`, { budget, selection: 'oracle', keys: 'exact' }),
      researchConfig(`oraclelow B${budget}`, { budget, selection: 'oracle-lowrank' }),
    ]),
  /** Which layers lose: sparse in one layer only (reference method), dense elsewhere. */
  layers: () =>
    [256, 128].flatMap((budget) => LAYERS.map((l) => researchConfig(`only L${l} B${budget}`, { budget, sparseLayers: [l] }))),
  /** Selection rules beyond the chunk mean, at the reference memory (refine, radius, sum) or above it (maxnorm). */
  select: () =>
    [256, 128].flatMap((budget) => [
      researchConfig(`ref B${budget}`, { budget }),
      researchConfig(`sum B${budget}`, { budget, selection: 'landmark-sum' }),
      researchConfig(`radius1 B${budget}`, { budget, selection: 'radius' }),
      researchConfig(`refine4 B${budget}`, { budget, selection: 'refine' }),
      researchConfig(`refine2 B${budget}`, { budget, selection: 'refine', refineFactor: 2 }),
      researchConfig(`maxnorm B${budget}`, { budget, selection: 'landmark+maxnorm' }),
    ]),
  /** Rank split over layers by key energy under the same total, with the authors' selection and with refine. */
  alloc: () =>
    [256, 128].flatMap((budget) => [
      researchConfig(`energy B${budget}`, { budget, rankAllocation: 'energy' }),
      researchConfig(`energy refine4 B${budget}`, { budget, rankAllocation: 'energy', selection: 'refine' }),
      researchConfig(`refine8 B${budget}`, { budget, selection: 'refine', refineFactor: 8 }),
      researchConfig(`oracle-alloc [24,8,32,8,64,56] B${budget}`, { budget, rank: [24, 8, 32, 8, 64, 56], selection: 'refine' }),
    ]),
  /** Research reference next to the real policy (validates the research layer), and the loss split. */
  core: () =>
    [256, 128].flatMap((budget) => [
      researchConfig(`ref B${budget}`, { budget }),
      policyRun(`policy B${budget}`, { budget, rank: 32, outliers: 4 }),
      researchConfig(`exactkeys B${budget}`, { budget, keys: 'exact' }),
      researchConfig(`oracle B${budget}`, { budget, selection: 'oracle' }),
      researchConfig(`oracle+exact B${budget}`, { budget, selection: 'oracle', keys: 'exact' }),
      policyRun(`policy refine4 B${budget}`, { budget, rank: 32, outliers: 4, refine: 4 }),
    ]),
  /** The real policy: the authors' settings, two-stage selection, energy ranks, both. */
  policy: () =>
    [256, 128].flatMap((budget) => [
      policyRun(`policy B${budget}`, { budget, rank: 32, outliers: 4 }),
      policyRun(`policy refine4 B${budget}`, { budget, rank: 32, outliers: 4, refine: 4 }),
      policyRun(`policy energy B${budget}`, { budget, rank: 32, outliers: 4, rankAllocation: 'energy' }),
      policyRun(`policy energy refine4 B${budget}`, { budget, rank: 32, outliers: 4, rankAllocation: 'energy', refine: 4 }),
    ]),
  /** Budget, rank and chunk size traded against each other at about the fast memory of B=256/r=32/o=4. */
  trade: () => {
    const better = { outliers: 4, refine: 4, rankAllocation: 'energy' as const };
    return [
      policyRun('policy B256 r32 refine4 energy', { ...better, budget: 256, rank: 32 }),
      policyRun('policy B192 r36 refine4 energy', { ...better, budget: 192, rank: 36 }),
      policyRun('policy B128 r40 refine4 energy', { ...better, budget: 128, rank: 40 }),
      policyRun('policy c16 B256 r40 refine4 energy', { ...better, chunkSize: 16, localChunks: 2, outliers: 2, budget: 256, rank: 40 }),
      policyRun('policy B256 r32 refine8 energy', { ...better, budget: 256, rank: 32, refine: 8 }),
    ];
  },
  /** The reference's smaller settings with two-stage selection, with and without energy ranks. */
  small: () => [
    policyRun('policy B128 r16', { budget: 128, rank: 16, outliers: 4 }),
    policyRun('policy B128 r16 refine8', { budget: 128, rank: 16, outliers: 4, refine: 8 }),
    policyRun('policy B128 r16 refine8 energy', { budget: 128, rank: 16, outliers: 4, refine: 8, rankAllocation: 'energy' }),
    policyRun('policy B128 r32 refine8', { budget: 128, rank: 32, outliers: 4, refine: 8 }),
    policyRun('policy B128 r32 refine8 energy', { budget: 128, rank: 32, outliers: 4, refine: 8, rankAllocation: 'energy' }),
    policyRun('policy B64 r32 o2 refine8', { budget: 64, rank: 32, outliers: 2, refine: 8 }),
    policyRun('policy B256 r32 refine8', { budget: 256, rank: 32, outliers: 4, refine: 8 }),
  ],
  /** Candidate depth of two-stage selection (research form: group max of chunk sums), up to all chunks. */
  depth: () => [
    researchConfig('dense', { denseLayers: LAYERS }),
    researchConfig('ref B256'),
    researchConfig('refine4 B256', { selection: 'refine' }),
    researchConfig('refine8 B256', { selection: 'refine', refineFactor: 8 }),
    researchConfig('refine16 B256', { selection: 'refine', refineFactor: 16 }),
    researchConfig('oraclelow B256', { selection: 'oracle-lowrank' }),
    researchConfig('oracle B256', { selection: 'oracle' }),
  ],
  /** Outliers chosen by the attention of the last prompt queries (SnapKV-like) instead of the landmark cosine. */
  outliers: () => [
    researchConfig('ref B256'),
    researchConfig('query-o4 B256', { outlierRule: 'query' }),
    researchConfig('query-o16 B160', { outlierRule: 'query', outliers: 16, budget: 160 }),
    researchConfig('query-o16 B160 refine4', { outlierRule: 'query', outliers: 16, budget: 160, selection: 'refine' }),
    researchConfig('query-o4 B256 refine4', { outlierRule: 'query', selection: 'refine' }),
    researchConfig('mincos-o16 B160', { outliers: 16, budget: 160 }),
  ],
  /** Two-stage selection with energy ranks at decreasing fast memory. */
  frontier: () => {
    const e = { rankAllocation: 'energy' as const };
    return [
      policyRun('policy B256 r32 refine8 energy', { ...e, budget: 256, rank: 32, outliers: 4, refine: 8 }),
      policyRun('policy B256 r16 refine8 energy', { ...e, budget: 256, rank: 16, outliers: 4, refine: 8 }),
      policyRun('policy B128 r16 refine4 energy', { ...e, budget: 128, rank: 16, outliers: 4, refine: 4 }),
      policyRun('policy B128 r8 refine8 energy', { ...e, budget: 128, rank: 8, outliers: 4, refine: 8 }),
      policyRun('policy B64 r16 o2 refine8 energy', { ...e, budget: 64, rank: 16, outliers: 2, refine: 8 }),
      policyRun('policy B64 r16 o2 refine16 energy', { ...e, budget: 64, rank: 16, outliers: 2, refine: 16 }),
    ];
  },
  /** Chunk summaries beyond the mean as the only selection (issue 15), at B=256 r=32. */
  bounds: () => [
    researchConfig('ref B256'),
    researchConfig('quest B256', { selection: 'quest' }),
    researchConfig('meandev1 B256', { selection: 'meandev' }),
    researchConfig('meandev.5 B256', { selection: 'meandev', boundAlpha: 0.5 }),
    researchConfig('pc1 B256', { selection: 'pc1' }),
    researchConfig('sub2 B256', { selection: 'sub2' }),
  ],
  /** The bound rules as nominators of a shallow two-stage selection. */
  boundsRefine: () => [
    researchConfig('refine2 B256', { selection: 'refine', refineFactor: 2 }),
    researchConfig('quest refine2 B256', { selection: 'refine', refineFactor: 2, nominator: 'quest' }),
    researchConfig('pc1 refine2 B256', { selection: 'refine', refineFactor: 2, nominator: 'pc1' }),
    researchConfig('meandev refine2 B256', { selection: 'refine', refineFactor: 2, nominator: 'meandev' }),
  ],
  /** Landmarks nominate, a bound rule re-ranks (no key rebuild). */
  rerank: () => [
    researchConfig('landmark->quest x4', { selection: 'refine', refineFactor: 4, reranker: 'quest' }),
    researchConfig('landmark->quest x8', { selection: 'refine', refineFactor: 8, reranker: 'quest' }),
    researchConfig('landmark->meandev x8', { selection: 'refine', refineFactor: 8, reranker: 'meandev' }),
    researchConfig('landmark->pc1 x8', { selection: 'refine', refineFactor: 8, reranker: 'pc1' }),
    researchConfig('landmark->sub2 x8', { selection: 'refine', refineFactor: 8, reranker: 'sub2' }),
    researchConfig('landmark->lowrank x8', { selection: 'refine', refineFactor: 8 }),
  ],
  /** Dense (exact) decoding and the deepest two-stage selection, for the final table. */
  final: () => {
    const e = { rankAllocation: 'energy' as const, outliers: 4 };
    return [
      researchConfig('dense', { denseLayers: LAYERS }),
      policyRun('policy B256 r32 refine16 energy', { ...e, budget: 256, rank: 32, refine: 16 }),
      policyRun('policy B256 r16 refine16 energy', { ...e, budget: 256, rank: 16, refine: 16 }),
    ];
  },
  /** The selection rules at B=256 only (the 'select' set's first half). */
  select256: () => RESEARCH_SETS.select().slice(0, 6),
  /** Energy ranks without two-stage selection (separates the two effects). */
  energyOnly: () => [
    policyRun('policy B256 r32 energy', { budget: 256, rank: 32, outliers: 4, rankAllocation: 'energy' }),
    policyRun('policy B128 r16 energy', { budget: 128, rank: 16, outliers: 4, rankAllocation: 'energy' }),
  ],
  /** Rank 16 in one layer only, rank 32 elsewhere, exact selection effects removed (oracle). */
  rank16: () => [
    researchConfig('r16 B128', { budget: 128, rank: 16 }),
    researchConfig('r16 exactkeys B128', { budget: 128, rank: 16, keys: 'exact' }),
    ...LAYERS.map((l) => researchConfig(`r16 only L${l} B128`, { budget: 128, rank: LAYERS.map((x) => (x === l ? 16 : 128)) })),
  ],
};
