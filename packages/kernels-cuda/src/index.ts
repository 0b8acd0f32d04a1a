// Public API of @shadowkv/kernels-cuda: the CUDA kernel backend (a Node-API addon), loaded lazily.
export { cuda } from './cuda.js';
export type { CudaOptions } from './cuda.js';
export { CudaBackend, MAX_ATTENTION_HEAD_DIM } from './cuda-backend.js';
export type { CudaLocation } from './cuda-tensor.js';
export { CudaRuntimeError } from './cuda-runtime-error.js';
export { probeCuda } from './probe.js';
export type { CudaMissing, CudaProbe } from './probe.js';
export { BUILD_COMMAND } from './load-addon.js';
