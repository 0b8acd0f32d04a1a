// Named shadowkv settings: the accuracy options found on the needle benchmark (docs/shadowkv-accuracy.md).
import type { ShadowKvParams } from './shadowkv-params.js';

/**
 * Dense accuracy at the authors' fast memory (docs/shadowkv-accuracy.md, section 8): chunks are scored by the
 * range of their keys (`spread` 0.5: q·center + ½·Σ|q_d|·halfWidth_d, half of Quest's bound, so one matching key
 * is no longer averaged away by the chunk mean), 2 × budget/chunkSize candidates are re-scored with their rebuilt
 * keys (`refine` 2; the winners' keys are reused, not rebuilt again), and the rank is split over layers by key
 * energy. The spread doubles the landmarks' fast memory; a derived rank gives it back (needle-llama: 32 → 16), so
 * `shadowkv(SHADOWKV_ACCURATE)` holds what `shadowkv()` holds. With explicit settings, halve the rank to match:
 * `shadowkv({ ...SHADOWKV_ACCURATE, budget: 256, rank: 16, outliers: 4 })` scores 99.6% (239/240) on needle-llama's
 * niah-dev at 4 831 KiB per prompt, where the authors' B=256 r=32 o=4 scores 93.3% at 4 837 KiB (dense: 99.6%).
 * The price is decode compute: more selection work per step than the authors' method (measured in the doc).
 */
export const SHADOWKV_ACCURATE: Readonly<ShadowKvParams> = Object.freeze({ spread: 0.5, refine: 2, rankAllocation: 'energy' });
