// Rank choice by energy: boundaries, zero tails, brute-force agreement, validation.
import { describe, expect, it } from 'vitest';
import { chooseRank, rankForEnergy } from './choose-rank.js';
import { SvdOptionError } from './svd-option-error.js';

describe('chooseRank', () => {
  // s = [3, 2, 1]: s² = 9, 4, 1, total 14; cumulative shares 9/14 ≈ 0.643, 13/14 ≈ 0.929, 1.
  it('returns the smallest rank whose share of sum(s²) reaches the energy', () => {
    const s = [3, 2, 1];
    expect(chooseRank(s, 0.1)).toBe(1);
    expect(chooseRank(s, 9 / 14)).toBe(1); // exactly on the boundary counts as reached
    expect(chooseRank(s, 0.65)).toBe(2);
    expect(chooseRank(s, 0.928)).toBe(2);
    expect(chooseRank(s, 0.93)).toBe(3);
    expect(chooseRank(s, 1)).toBe(3);
  });

  it('stops at the numerical rank for energy 1 and returns 1 for an all-zero spectrum', () => {
    expect(chooseRank(new Float64Array([2, 1, 0, 0]), 1)).toBe(2);
    expect(chooseRank([0, 0, 0], 0.5)).toBe(1);
    expect(chooseRank([5], 1)).toBe(1);
  });

  it('matches a brute-force search on a decaying spectrum', () => {
    const s = Array.from({ length: 100 }, (_, i) => Math.exp(-i / 7));
    const total = s.reduce((x, y) => x + y * y, 0);
    for (const energy of [0.5, 0.9, 0.99, 0.999999]) {
      let r = 1;
      while (s.slice(0, r).reduce((x, y) => x + y * y, 0) < energy * total) r++;
      expect(chooseRank(s, energy)).toBe(r);
    }
  });

  it('measures the share against an external total in rankForEnergy (and caps at the values given)', () => {
    // Only the top 2 of a spectrum whose full energy is 20 are known: 9 + 4 = 13 < 0.9·20.
    expect(rankForEnergy([3, 2], 0.5, 20)).toBe(2);
    expect(rankForEnergy([3, 2], 0.9, 20)).toBe(2);
    expect(rankForEnergy([3, 2], 0.4, 20)).toBe(1);
  });

  it('rejects bad energies and spectra', () => {
    expect(() => chooseRank([1], 0)).toThrow(SvdOptionError);
    expect(() => chooseRank([1], 1.5)).toThrow(/"energy".*\(0, 1\].*1\.5/);
    expect(() => chooseRank([1], Number.NaN)).toThrow(/energy/);
    expect(() => chooseRank([], 0.5)).toThrow(/empty/);
    expect(() => chooseRank([1, 2], 0.5)).toThrow(/descending.*element 1 \(2\) > element 0 \(1\)/);
    expect(() => chooseRank([1, -1], 0.5)).toThrow(/element 1 is -1/);
    expect(() => chooseRank([Number.POSITIVE_INFINITY], 0.5)).toThrow(/finite/);
  });
});
