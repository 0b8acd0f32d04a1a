// Public API of @shadowkv/lowrank-svd: truncated and randomized SVD of tall matrices, rank choice, ShadowKV factors.
export { randomizedSvd } from './randomized-svd.js';
export type { RandomizedSvdOptions } from './randomized-svd.js';
export { exactSvd } from './exact-svd.js';
export { chooseRank } from './choose-rank.js';
export { lowRankFactors } from './low-rank-factors.js';
export { reconstructionError } from './reconstruction-error.js';
export { SvdOptionError } from './svd-option-error.js';
export type { SvdResult } from './svd-result.js';
