// Public API of the shadowkv package in browsers (the "browser" export condition): public-api.ts, the same list
// index.ts starts from, without the Node-only exports (random-model writers need node:fs); no CLI, no benchmarks.
export * from './public-api.js';
