// Public API of @shadowkv/kernels-webgpu.
export { webgpu } from './webgpu.js';
export type { WebGpuOptions } from './webgpu.js';
export { WebGpuBackend } from './webgpu-backend.js';
export { GpuTensor } from './gpu-tensor.js';
export { WebGpuError } from './webgpu-error.js';
export { probeWebGpuAdapter, softwareAdapterReason } from './adapter-probe.js';
export type { AdapterProbe } from './adapter-probe.js';
export { findLavapipeIcd, REPO_LAVAPIPE_DIR, SYSTEM_LAVAPIPE_DIR } from './node-gpu.js';
