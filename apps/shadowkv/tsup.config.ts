import { defineConfig } from 'tsup';

export default defineConfig([
  // The node build cleans dist/ except the browser build's files: the two configs run in parallel.
  // shadowkv/bench (dist/bench.js) is its own entry: benchmark helpers stay out of the main entry.
  {
    entry: { index: 'src/index.ts', cli: 'src/cli.ts', bench: 'src/bench/index.ts' },
    format: ['esm'],
    dts: { entry: { index: 'src/index.ts', bench: 'src/bench/index.ts' } },
    clean: ['!browser.*'],
    target: 'node20',
  },
  // The "browser" export: platform browser resolves the workspace packages' browser entries, so no node:* is bundled.
  { entry: ['src/browser.ts'], format: ['esm'], dts: true, target: 'es2022', platform: 'browser' },
]);
