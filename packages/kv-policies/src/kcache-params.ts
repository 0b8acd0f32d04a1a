// KCache's parameters: a fixed number of values per step, or the smallest set reaching an attention mass.
import { InvalidOptionError } from '@shadowkv/core';
import { checkBool, checkInt, checkPromptFits } from './option-checks.js';

/** Parameters of the kcache policy; give topN or mass (not both). */
export interface KcacheParams {
  /** Tokens whose values are fetched per step, per KV head. Default 256 (when mass is not given). */
  topN?: number;
  /**
   * Instead of topN: per step, the smallest token set (top tokens by probability, max-pooled over each KV head's
   * query heads) that leaves out at most 1 - mass of pooled probability, so every query head keeps at least
   * this share of its attention; sized for the neediest KV head. In (0, 1].
   */
  mass?: number;
  /** Keep the offloaded values as int8 with one scale per token and head. Default false. */
  quantizeValues?: boolean;
}

export interface ResolvedKcacheParams {
  topN: number | undefined;
  mass: number | undefined;
  quantizeValues: boolean;
}

export const KCACHE_DEFAULT_TOP_N = 256;

/** Fills defaults and checks the parameters; other keys of `p` (other policies' options) are ignored. */
export function resolveKcacheParams(p: KcacheParams): ResolvedKcacheParams {
  if (p.topN !== undefined && p.mass !== undefined) {
    throw new InvalidOptionError('mass', `give either topN (${p.topN}) or mass (${p.mass}), not both`);
  }
  const out: ResolvedKcacheParams = {
    topN: p.mass === undefined ? (p.topN ?? KCACHE_DEFAULT_TOP_N) : undefined,
    mass: p.mass,
    quantizeValues: p.quantizeValues ?? false,
  };
  if (out.topN !== undefined) checkInt('topN', out.topN, 1);
  if (out.mass !== undefined && !(out.mass > 0 && out.mass <= 1)) {
    throw new InvalidOptionError('mass', `must be in (0, 1], e.g. 0.9 for the tokens holding 90% of the attention, got ${out.mass}`);
  }
  checkBool('quantizeValues', out.quantizeValues);
  return out;
}

/** Prompt-dependent checks. A topN at or above the context simply fetches every value (dense attention). */
export function checkKcachePrompt(promptLen: number, maxSeqLen: number): void {
  checkPromptFits('kcache', promptLen, maxSeqLen);
}
