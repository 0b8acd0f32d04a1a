// Public API of the shadowkv package: engines, streaming generation, policies and backends. The lists live in
// public-api.ts (everywhere) and public-api-node.ts (Node only), so this entry and browser.ts cannot drift.
export * from './public-api.js';
export * from './public-api-node.js';
