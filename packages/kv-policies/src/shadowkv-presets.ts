// Named shadowkv settings: the accuracy options found on the needle benchmark (docs/shadowkv-accuracy.md).
import type { ShadowKvParams } from './shadowkv-params.js';

/**
 * Dense accuracy at the authors' fast memory and close to their decode cost (docs/shadowkv-accuracy.md, sections 8-9):
 * chunks are scored by the range of their keys (`spread` 0.5: q·center + ½·Σ_g (Σ_{d in g}|q_d|)·halfWidth_g, half
 * of a Quest-style bound over 8 groups of dimensions, so one matching key is no longer averaged away by the chunk
 * mean), 2 × budget/chunkSize candidates are re-scored with their rebuilt keys (`refine` 2; the winners' keys are
 * reused, not rebuilt again), and the rank is split over layers by key energy. From the second step on, the candidates
 * are the last step's selection (its keys are held, so re-scoring it costs no rebuild) plus the landmarks' best
 * budget/(2·chunkSize) others (`refineFresh` 0.5): a step rebuilds about what the authors' rebuilds (section 9,
 * 1.1-1.2x their decode step on wasm, under 1x on the CPU backend, same accuracy). The 8 half widths per chunk and head
 * cost nKvHeads·8/chunkSize floats per token; a derived rank gives them back (needle-llama: 32 → 30), so
 * `shadowkv(SHADOWKV_ACCURATE)` holds what `shadowkv()` holds. With explicit settings lower the rank to match, e.g.
 * `shadowkv({ ...SHADOWKV_ACCURATE, budget: 256, rank: 30, outliers: 4 })`: 99.2% (238/240) on needle-llama's
 * niah-dev where the authors' B=256 r=32 o=4 scores 93.3% (dense: 99.6%).
 */
export const SHADOWKV_ACCURATE: Readonly<ShadowKvParams> = Object.freeze({ spread: 0.5, spreadGroups: 8, refine: 2, refineFresh: 0.5, rankAllocation: 'energy' });
