// tsup config of the GPU machine's bundle (scripts/gpu-pack.sh, run from packages/kernels-cuda): ESM files with
// the workspace sources and pure-JS dependencies inside, under .gpu/. The CLI imports backends by package name
// at run time, so the backends and @shadowkv/core (one copy, so `instanceof` of its errors holds across files)
// are laid out as packages in .gpu/node_modules/@shadowkv/*; native pieces stay external and are carried
// beside them (.gpu/node_modules/webgpu with dawn.node, the CUDA addon next to kernels-cuda's index.mjs).
import { defineConfig, type Options } from 'tsup';

const shared: Options = {
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  splitting: false,
  sourcemap: false,
  dts: false,
  outExtension: () => ({ js: '.mjs' }),
  // tsup leaves this package's dependencies (@shadowkv/core) external and bundles everything else it reaches.
  external: [
    /^@shadowkv\/(core|kernels-cuda|kernels-webgpu|kernels-wasm|kernels-gpujs)$/,
    'webgpu', 'gpu.js', 'gl', 'node-llama-cpp', /^@node-llama-cpp\//, 'esbuild',
  ],
  // Bundled CommonJS dependencies call require(); ESM output needs a real one.
  banner: { js: "import { createRequire as __skvCreateRequire } from 'node:module'; const require = __skvCreateRequire(import.meta.url);" },
  esbuildOptions(options) {
    options.conditions = ['@shadowkv/source'];
  },
};

const pkg = (name: string, entry: string): Options => ({ ...shared, entry: { index: entry }, outDir: `.gpu/node_modules/@shadowkv/${name}` });

export default defineConfig([
  {
    ...shared,
    entry: {
      cli: '../../apps/shadowkv/src/cli.ts',
      'conformance-run': 'scripts/gpu/conformance-run.ts',
      'golden-run': 'scripts/gpu/golden-run.ts',
    },
    outDir: '.gpu/bin',
  },
  pkg('core', '../core/src/index.ts'),
  pkg('kernels-cuda', 'src/index.ts'),
  pkg('kernels-webgpu', '../kernels-webgpu/src/index.ts'),
]);
