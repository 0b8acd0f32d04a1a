import { defineConfig } from 'tsup';

export default defineConfig([
  { entry: ['src/index.ts'], format: ['esm'], dts: true, clean: true, target: 'node20' },
  // The "browser" export: platform browser picks the fetch twin of "#model-files", so no node:* is bundled.
  { entry: ['src/browser.ts'], format: ['esm'], dts: true, target: 'es2022', platform: 'browser' },
]);
