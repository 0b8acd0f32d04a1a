// Public API of @shadowkv/kv-offload: the slow-memory value store and the fast-side chunk cache.
export type { ValueQuantization, ValueStoreOptions } from './value-store.js';
export { ValueStore } from './value-store.js';
export type { ChunkCacheOptions, ChunkFetch, PendingChunkFetch, QueueUpdateOptions } from './chunk-cache.js';
export { ChunkCache } from './chunk-cache.js';
