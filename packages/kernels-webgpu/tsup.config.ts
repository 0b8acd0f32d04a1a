import { defineConfig } from 'tsup';

// `webgpu` (the Dawn Node binding) stays external and is only reached through a dynamic import,
// so browser bundles of this package never pull it in.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  // stripInternal: GpuTensor's buffer and constructor are typed with WebGPU's GPUBuffer and marked @internal,
  // so the published declarations need neither lib dom nor @webgpu/types (see src/public-gpu-types.ts).
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  target: 'es2022',
  external: ['webgpu'],
});
