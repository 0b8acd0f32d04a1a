// Public API of @shadowkv/kernels-gpujs. gpu.js is an optional peer dependency, imported on first use.
export { gpujs, probeGpujs, GPUJS_MODES } from './gpujs.js';
export type { GpujsMode, GpujsOptions } from './gpujs.js';
export { GpujsBackend, GL_MAX_ELEMENTS } from './gpujs-backend.js';
export type { GpujsKernelMode } from './gpujs-backend.js';
export { GpujsTensor } from './gpujs-tensor.js';
export type { GpujsData } from './gpujs-tensor.js';
export { GPUJS_INSTALL_HINT } from './load-gpujs.js';
export { SCORE_BUDGET_ELEMENTS } from './attention-blocks.js';
