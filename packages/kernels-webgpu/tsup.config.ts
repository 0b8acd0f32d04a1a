import { defineConfig } from 'tsup';

// `webgpu` (the Dawn Node binding) stays external and is only reached through a dynamic import,
// so browser bundles of this package never pull it in.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  target: 'es2022',
  external: ['webgpu'],
});
