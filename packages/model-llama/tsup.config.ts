import { defineConfig } from 'tsup';

export default defineConfig([
  // The node build cleans dist/ except the browser build's files: the two configs run in parallel.
  { entry: ['src/index.ts'], format: ['esm'], dts: true, clean: ['!browser.*'], target: 'node20' },
  // The "browser" export: platform browser picks the fetch twin of "#model-files", so no node:* is bundled.
  { entry: ['src/browser.ts'], format: ['esm'], dts: true, target: 'es2022', platform: 'browser' },
]);
