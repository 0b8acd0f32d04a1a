// Public API of @shadowkv/kernels-cpu.
export { CpuBackend, cpu, ropeInPlace } from './cpu-backend.js';
export { CpuTensor } from './cpu-tensor.js';
export { matmulInto, dot } from './matmul.js';
export { attentionInto } from './attention.js';
