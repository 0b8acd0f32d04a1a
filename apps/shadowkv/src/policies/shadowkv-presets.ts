// Named shadowkv settings: the accuracy options found on the needle benchmark (docs/shadowkv-accuracy.md).
import type { ShadowKvParams } from './shadowkv-params.js';

/**
 * Two-stage chunk selection (landmarks nominate 8 × budget/chunkSize chunks, their rank-r keys pick the budget)
 * and the rank split over layers by key energy. Neither keeps extra fast memory: combine with any budget and
 * rank, e.g. `shadowkv({ ...SHADOWKV_ACCURATE, budget: 256, rank: 32, outliers: 4 })`. On needle-llama this
 * brings the authors' settings from 93% to dense-level accuracy, and keeps it at half the rank; the price is
 * a rebuild and a score of 8 × budget keys per step (compute, not memory or transfers).
 */
export const SHADOWKV_ACCURATE: Readonly<ShadowKvParams> = Object.freeze({ refine: 8, rankAllocation: 'energy' });
