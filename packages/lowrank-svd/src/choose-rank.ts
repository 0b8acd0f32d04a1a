// Rank choice by spectral energy: the smallest rank that keeps a given share of sum(s²) = ||A||_F².
import { SvdOptionError } from './svd-option-error.js';

/**
 * Relative slack on the energy target, so that energy = 1 reaches the full numerical rank even when the
 * total was summed in a different order (e.g. ||A||_F² from the matrix itself).
 */
const SLACK = 1e-12;

/**
 * The smallest rank r >= 1 with sum(s[0..r)²) >= energy · sum(s²), for singular values in descending order.
 * For an all-zero spectrum it returns 1.
 * @throws SvdOptionError if energy is outside (0, 1] or the values are empty, negative, non-finite or not descending.
 */
export function chooseRank(singularValues: ArrayLike<number>, energy: number): number {
  assertEnergy(energy);
  const n = singularValues.length;
  if (n === 0) throw new SvdOptionError('singularValues', 'is empty; pass the spectrum of a non-empty matrix');
  let total = 0;
  for (let i = 0; i < n; i++) {
    const s = singularValues[i];
    if (!Number.isFinite(s) || s < 0) throw new SvdOptionError('singularValues', `element ${i} is ${s}; singular values are finite and >= 0`);
    if (i > 0 && s > singularValues[i - 1]) {
      throw new SvdOptionError('singularValues', `must be in descending order, but element ${i} (${s}) > element ${i - 1} (${singularValues[i - 1]})`);
    }
    total += s * s;
  }
  return rankForEnergy(singularValues, energy, total);
}

/**
 * Like chooseRank, against a known total energy (e.g. ||A||_F² when only the leading values were computed).
 * Returns s.length when the values given do not reach the target.
 */
export function rankForEnergy(s: ArrayLike<number>, energy: number, total: number): number {
  const target = energy * total * (1 - SLACK);
  let cumulative = 0;
  for (let r = 1; r <= s.length; r++) {
    cumulative += s[r - 1] * s[r - 1];
    if (cumulative >= target) return r;
  }
  return s.length;
}

/** Checks 0 < energy <= 1. */
export function assertEnergy(energy: number): void {
  if (!(energy > 0 && energy <= 1)) {
    throw new SvdOptionError('energy', `must be in (0, 1] (a share of sum(s²), e.g. 0.9), got ${energy}`);
  }
}
