// KCache's parameters: a fixed number of values per step, or the smallest set reaching an attention mass.
import { checkPromptFits } from './option-checks.js';
import { resolveParams, type ParamSpec, type ParamsOf, type PolicySchema } from './param-schema.js';

/** The default topN (when mass is not given). */
export const KCACHE_DEFAULT_TOP_N = 256;

/** The parameters of the kcache policy, one row each (defaults, checks, CLI flags, inline keys and docs). */
export const KCACHE_PARAMS = [
  {
    name: 'topN',
    type: 'int',
    default: KCACHE_DEFAULT_TOP_N,
    min: 1,
    exclusiveWith: 'mass',
    doc: 'Tokens whose values are fetched per decode step, per KV head. A topN at or above the context fetches every value (dense attention).',
  },
  {
    // Probabilities are max-pooled over each KV head's query heads, so every query head keeps at least this share
    // of its attention; the set is sized for the neediest KV head.
    name: 'mass',
    type: 'number',
    min: 0,
    minExclusive: true,
    max: 1,
    hint: 'e.g. 0.9 for the tokens holding 90% of the attention',
    doc: 'Instead of topN: per step, the smallest top-probability token set leaving out at most 1 - mass of the attention.',
  },
  { name: 'quantizeValues', type: 'boolean', default: false, doc: 'Keep the offloaded values as int8 with one scale per token and head (about 4x less slow memory).' },
] as const satisfies readonly ParamSpec[];

export const KCACHE_SCHEMA: PolicySchema = { policy: 'kcache', params: KCACHE_PARAMS };

/** Parameters of the kcache policy; give topN or mass (not both). KCACHE_PARAMS documents them. */
export type KcacheParams = ParamsOf<typeof KCACHE_PARAMS>;

/** Resolved: exactly one of topN and mass is set. */
export type ResolvedKcacheParams = { [K in keyof KcacheParams]-?: K extends 'topN' | 'mass' ? KcacheParams[K] | undefined : NonNullable<KcacheParams[K]> };

/** Fills defaults and checks the parameters (every problem in one error); other keys of `p` are ignored. */
export function resolveKcacheParams(p: KcacheParams): ResolvedKcacheParams {
  const r = resolveParams<ResolvedKcacheParams>(KCACHE_SCHEMA, p);
  return { ...r, topN: r.topN, mass: r.mass };
}

/** Prompt-dependent checks. A topN at or above the context simply fetches every value (dense attention). */
export function checkKcachePrompt(promptLen: number, maxSeqLen: number): void {
  checkPromptFits('kcache', promptLen, maxSeqLen);
}
