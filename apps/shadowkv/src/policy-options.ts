// Builds a cache policy from a name and flat parameters (CLI flags, generate() options): kv-policies owns it.
export { createPolicy, parsePolicySpec, POLICY_NAMES, POLICY_SCHEMAS } from '@shadowkv/kv-policies';
export type { PolicyName, PolicyOptions } from '@shadowkv/kv-policies';
