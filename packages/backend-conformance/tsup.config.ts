import { defineConfig } from 'tsup';

// vitest stays external: the suite registers its tests in the caller's vitest run.
export default defineConfig({ entry: ['src/index.ts'], format: ['esm'], dts: true, clean: true, target: 'node20', external: ['vitest'] });
