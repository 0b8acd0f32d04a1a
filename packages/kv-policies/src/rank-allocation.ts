// Per-layer ranks of the low-rank keys under one total: the layers whose key spectra decay slowly get more rank.
import { InvalidOptionError } from '@shadowkv/core';

/**
 * Splits `total` rank over the layers so that every layer keeps the same share of its key energy, as far
 * as integer ranks allow: starting from `minRank` each, one rank at a time goes to the layer whose next
 * singular value carries the largest share of that layer's energy (s²_k / Σ s²). This maximises the summed
 * energy share under the total, the same as picking one common energy threshold for all layers.
 *
 * Every layer of ShadowKV keeps `A` rows for the same tokens, so the fast-side bytes of the low-rank keys
 * depend only on the summed rank: the result costs what a uniform rank total/nLayers costs.
 *
 * @param spectra singular values per layer, descending (at least `maxRank` of them, or all there are)
 * @param energy total squared Frobenius norm of each layer's key matrix (Σ of all s², including the ones
 *   not computed); when omitted, the sum of the given s² is used
 * @returns ranks per layer, each in [minRank, min(maxRank, spectra[l].length)], summing to `total`
 * @throws InvalidOptionError when `total` cannot be split within those bounds
 */
export function allocateRanks(spectra: ArrayLike<number>[], total: number, minRank: number, maxRank: number, energy?: number[]): number[] {
  const n = spectra.length;
  const caps = spectra.map((s) => Math.min(maxRank, s.length));
  if (!Number.isInteger(total) || total < n * minRank || total > caps.reduce((a, b) => a + b, 0)) {
    throw new InvalidOptionError(
      'rank',
      `a total rank of ${total} cannot be split over ${n} layers with ${minRank}..[${caps.join(', ')}] each; use a rank between ${minRank} and ${Math.floor(caps.reduce((a, b) => a + b, 0) / n)}`,
    );
  }
  const norm = spectra.map((s, l) => {
    if (energy) return energy[l];
    let e = 0;
    for (let k = 0; k < s.length; k++) e += s[k] * s[k];
    return e;
  });
  const ranks = spectra.map(() => minRank);
  // Greedy on the next component's energy share: optimal because each layer's shares are non-increasing.
  for (let left = total - n * minRank; left > 0; left--) {
    let best = -1;
    let bestGain = -Infinity;
    for (let l = 0; l < n; l++) {
      if (ranks[l] >= caps[l]) continue;
      const s = spectra[l][ranks[l]];
      const gain = norm[l] > 0 ? (s * s) / norm[l] : 0;
      if (gain > bestGain) [best, bestGain] = [l, gain];
    }
    ranks[best]++;
  }
  return ranks;
}
