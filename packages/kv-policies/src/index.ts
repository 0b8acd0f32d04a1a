// Public API of @shadowkv/kv-policies: the dense, shadowkv and kcache cache policies, presets and states.
export { dense, DenseState } from './dense-policy.js';
export { DenseKvBuffer, denseKvBytes, headMajorToTokenMajor } from './dense-kv-buffer.js';
export type { DenseKvBufferOptions, DenseLayerData } from './dense-kv-buffer.js';
export { shadowkv } from './shadowkv.js';
export type { ShadowKvParams } from './shadowkv-params.js';
export { SHADOWKV_ACCURATE } from './shadowkv-presets.js';
export { allocateRanks } from './rank-allocation.js';
export { kcache } from './kcache.js';
export type { KcacheParams } from './kcache-params.js';
export { ShadowKvState } from './shadowkv-state.js';
export type { ShadowKvLayerSnapshot } from './shadowkv-layer.js';
export { KcacheState } from './kcache-state.js';
