// Public API of @shadowkv/kernels-webgpu.
// Its declarations name no WebGPU global (see public-gpu-types.ts), so they compile in a Node project without
// lib dom or @webgpu/types.
export { webgpu } from './webgpu.js';
export type { WebGpuOptions } from './webgpu.js';
export type { WebGpuDevice, WebGpuEntry, WebGpuPowerPreference } from './public-gpu-types.js';
export { WebGpuBackend } from './webgpu-backend.js';
export { GpuTensor } from './gpu-tensor.js';
export { WebGpuError } from './webgpu-error.js';
export { probeWebGpuAdapter, softwareAdapterReason } from './adapter-probe.js';
export type { AdapterProbe } from './adapter-probe.js';
export { findLavapipeIcd, REPO_LAVAPIPE_DIR, SYSTEM_LAVAPIPE_DIR } from './node-gpu.js';
