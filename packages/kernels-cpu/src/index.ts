// Public API of @shadowkv/kernels-cpu.
export { CpuBackend, cpu } from './cpu-backend.js';
export { ropeInPlace } from './rope-table.js';
export { topKRow } from './top-k.js';
export { CpuTensor } from './cpu-tensor.js';
export { matmulInto, dot } from './matmul.js';
export { attentionInto } from './attention.js';
export { chunkCacheUpdateInto, type ChunkCacheUpdateSizes } from './chunk-cache-update.js';
