// Public API of @shadowkv/sparse-select: landmarks, outlier chunks, chunk selection (ShadowKV), token selection (KCache).
export type { HeadMajorRows } from './head-major-rows.js';
export { checkHeadMajorRows } from './head-major-rows.js';
export { chunkLandmarks } from './chunk-landmarks.js';
export { chunkMinCosine, outlierChunks } from './outlier-chunks.js';
export type { ChunkBounds } from './chunk-spreads.js';
export { chunkSpreads, spreadLandmarks, spreadQuery } from './chunk-spreads.js';
export type { LandmarkSet } from './landmark-set.js';
export { buildLandmarkSet, removeOutliers } from './landmark-set.js';
export { landmarkChunkIds, selectChunks } from './select-chunks.js';
export type { LowRankKeys, RefinedChunks } from './refine-chunks.js';
export { heldAndFreshCandidates, refineChunks, refineChunksKeepingKeys, topChunksByMass } from './refine-chunks.js';
export { massCount, selectTokens, tokenScores } from './select-tokens.js';
