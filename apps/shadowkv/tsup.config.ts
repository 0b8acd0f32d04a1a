import { defineConfig } from 'tsup';

export default defineConfig([
  // The node build cleans dist/ except the browser build's files: the two configs run in parallel.
  { entry: ['src/index.ts', 'src/cli.ts'], format: ['esm'], dts: { entry: 'src/index.ts' }, clean: ['!browser.*'], target: 'node20' },
  // The "browser" export: platform browser resolves the workspace packages' browser entries, so no node:* is bundled.
  { entry: ['src/browser.ts'], format: ['esm'], dts: true, target: 'es2022', platform: 'browser' },
]);
