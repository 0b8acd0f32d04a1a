// Public API of @shadowkv/kv-policies: the dense, shadowkv and kcache cache policies, presets and states.
export { dense, DenseState } from './dense-policy.js';
export { DenseKvBuffer, denseKvBytes, headMajorToTokenMajor } from './dense-kv-buffer.js';
export type { DenseKvBufferOptions, DenseLayerData } from './dense-kv-buffer.js';
export { shadowkv } from './shadowkv.js';
export { SHADOWKV_PARAMS, SHADOWKV_SCHEMA } from './shadowkv-params.js';
export type { ShadowKvParams } from './shadowkv-params.js';
export { SHADOWKV_ACCURATE } from './shadowkv-presets.js';
export { allocateRanks } from './rank-allocation.js';
export { kcache } from './kcache.js';
export { KCACHE_PARAMS, KCACHE_SCHEMA } from './kcache-params.js';
export type { KcacheParams } from './kcache-params.js';
export { ShadowKvState } from './shadowkv-state.js';
export type { ShadowKvLayerSnapshot } from './shadowkv-layer.js';
export { KcacheState } from './kcache-state.js';
export { createPolicy, parsePolicySpec, POLICY_NAMES, POLICY_SCHEMAS } from './policy-registry.js';
export type { PolicyName, PolicyOptions } from './policy-registry.js';
export { describeRange, findParam, kebabCase, paramsTable, parseParamValue, PolicyParamsError, resolveParams } from './param-schema.js';
export type { ParamProblem, ParamSpec, ParamsOf, ParamValue, PolicySchema } from './param-schema.js';
