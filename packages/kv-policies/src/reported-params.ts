// The parameters a result reports: the values a state actually used (derived ones included), else the policy's.
import type { KvCachePolicy, KvCacheState } from '@shadowkv/core';

/**
 * A policy's `params` name the derived ones 'auto' (they depend on the prompt); a state that derived them
 * (ShadowKvState.chosenParams) knows their values. Results should report this.
 */
export function reportedParams(policy: KvCachePolicy, state?: KvCacheState): Readonly<Record<string, number | string | boolean>> {
  // Wrappers (e.g. the app's RecordingState) expose the state they wrap as `inner`.
  for (let s = state as { chosenParams?: Record<string, number | string | boolean>; inner?: unknown } | undefined; s; s = s.inner as typeof s) {
    if (s.chosenParams) return s.chosenParams;
  }
  return policy.params;
}
