import { defineConfig } from 'tsup';

// gpu.js stays external: it is an optional peer dependency, loaded with a dynamic import at run time.
export default defineConfig({ entry: ['src/index.ts'], format: ['esm'], dts: true, clean: true, target: 'node20', external: ['gpu.js'] });
