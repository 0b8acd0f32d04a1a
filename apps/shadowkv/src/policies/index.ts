// The offloading cache policies of the shadowkv app: shadowkv and kcache.
export { shadowkv } from './shadowkv.js';
export type { ShadowKvParams } from './shadowkv-params.js';
export { SHADOWKV_ACCURATE } from './shadowkv-presets.js';
export { allocateRanks } from './rank-allocation.js';
export { kcache } from './kcache.js';
export type { KcacheParams } from './kcache-params.js';
export { ShadowKvState } from './shadowkv-state.js';
export type { ShadowKvLayerSnapshot } from './shadowkv-layer.js';
export { KcacheState } from './kcache-state.js';
