// Builds a cache policy from a name and flat parameters (CLI flags, generate() options).
import { InvalidOptionError, type KvCachePolicy } from '@shadowkv/core';
import { dense, kcache, shadowkv, type KcacheParams, type ShadowKvParams } from '@shadowkv/kv-policies';

export type PolicyName = 'dense' | 'shadowkv' | 'kcache';
export const POLICY_NAMES: readonly PolicyName[] = ['dense', 'shadowkv', 'kcache'];

export interface PolicyOptions extends ShadowKvParams, KcacheParams {}

export function createPolicy(name: string, opts: PolicyOptions = {}): KvCachePolicy {
  switch (name) {
    case 'dense':
      return dense();
    case 'shadowkv':
      return shadowkv(opts);
    case 'kcache':
      return kcache(opts);
    default:
      throw new InvalidOptionError('policy', `unknown policy "${name}"; use one of ${POLICY_NAMES.join(', ')}`);
  }
}
