// The shadowkv exports that need Node (node:fs and friends); index.ts adds them to public-api.ts. Benchmark
// helpers are not here: they are the shadowkv/bench entry (src/bench/index.ts).
export { RANDOM_PRESETS, ensureRandomModel } from './random-models.js';
