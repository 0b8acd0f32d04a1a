// Public API of @shadowkv/kernels-wasm: the WebAssembly SIMD + threads kernel backend.
export { wasm, threadsUnavailableReason } from './wasm.js';
export type { WasmOptions } from './wasm.js';
export type { WeightLayout } from './weight-layout.js';
export { WasmBackend } from './wasm-backend.js';
export { WasmTensor } from './wasm-tensor.js';
export { WasmOutOfMemoryError, WASM32_MAX_BYTES } from './wasm-memory-error.js';
export { WasmWorkerError } from './wasm-worker-error.js';
export { DEFAULT_THRESHOLDS } from './parallel-thresholds.js';
export type { ParallelThresholds } from './parallel-thresholds.js';
