// Truncated SVD of a tall float32 matrix by the Halko–Martinsson–Tropp randomized range finder: options,
// validation and the choice between the randomized core (range-finder.ts) and the exact routes (gram-svd.ts,
// exactSvd) once the sketch would cover every column.
import { rankForEnergy, assertEnergy } from './choose-rank.js';
import { exactSvd } from './exact-svd.js';
import { gramSvd } from './gram-svd.js';
import { GaussianRandom } from './gaussian-random.js';
import { pickRoute, rangeFinderSvd, type Route } from './range-finder.js';
import { SvdOptionError } from './svd-option-error.js';
import type { SvdResult } from './svd-result.js';
import { truncateSvd } from './truncate-svd.js';
import { assertCount, assertMatrix } from './validate-matrix.js';

/** Options of randomizedSvd. Give exactly one of `rank` and `energy`. */
export interface RandomizedSvdOptions {
  /** Number of components to return, 1..min(rows, cols). */
  rank?: number;
  /**
   * Choose the smallest rank whose share of ||A||_F² (= sum of all s²) is >= energy, 0 < energy <= 1.
   * The spectrum is estimated up to `maxRank` components; if those do not reach the target, maxRank is returned.
   */
  energy?: number;
  /** Upper bound on the rank (and the sketch size) with `energy`; default min(rows, cols), which is slow for wide matrices. */
  maxRank?: number;
  /** Extra random directions in the sketch beyond the rank (default 10). More improves accuracy at linear cost. */
  oversample?: number;
  /** Subspace iterations (default 2); more helps with slowly decaying spectra. Each costs two passes over A, or only cols-sized work when AᵀA is formed. */
  powerIterations?: number;
  /** Seed of the Gaussian test matrix (default 0): equal seeds give bit-identical results. */
  seed?: number;
}

/** Internal options (not exported from the package): tests force a route to cover both. */
export interface RandomizedSvdInternals extends RandomizedSvdOptions {
  route?: Route;
}

const DEFAULT_OVERSAMPLE = 10;
const DEFAULT_POWER_ITERATIONS = 2;

/**
 * Rank-r truncated SVD of a row-major [rows, cols] matrix (rows = seqLen, cols = nKvHeads·headDim for keys).
 * Products with A read float32 and accumulate in float64; all orthonormalisation and the small SVD are float64.
 * Cost, with l = rank + oversample and q = powerIterations: the smaller of (2q + 2)·rows·cols·l multiply-adds
 * (passes over A) and rows·cols²/2 (forming AᵀA once), plus about rows·cols·rank for U. Memory: at most one
 * float64 [rows, l] buffer or one [cols, cols] one, never [rows, rows].
 * When l reaches min(rows, cols) the sketch would be the whole space, so the SVD is computed exactly: from the
 * eigen-decomposition of AᵀA for tall A (rows·cols²/2 + rows·cols·rank multiply-adds and a cols×cols
 * Householder + QL eigen-decomposition, when the kept σ are at least 1e-4·σ1), else by exactSvd.
 * @throws SvdOptionError on bad sizes, non-finite values or inconsistent options.
 */
export function randomizedSvd(a: Float32Array, rows: number, cols: number, opts: RandomizedSvdOptions): SvdResult {
  const frobenius2 = assertMatrix(a, rows, cols);
  const full = Math.min(rows, cols);
  const { rank, energy, maxRank } = opts;
  if (rank === undefined && energy === undefined) {
    throw new SvdOptionError('rank', 'give either rank (a number of components) or energy (a share of sum(s²) in (0, 1])');
  }
  if (rank !== undefined && energy !== undefined) {
    throw new SvdOptionError('energy', `give either rank or energy, not both (got rank ${rank} and energy ${energy})`);
  }
  assertCount('rank', rank, 1, full);
  assertCount('maxRank', maxRank, 1, full);
  if (energy !== undefined) assertEnergy(energy);
  if (rank !== undefined && maxRank !== undefined && rank > maxRank) {
    throw new SvdOptionError('rank', `${rank} exceeds maxRank ${maxRank}`);
  }
  assertCount('oversample', opts.oversample, 0, 1_000_000);
  assertCount('powerIterations', opts.powerIterations, 0, 1000);
  if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed)) {
    throw new SvdOptionError('seed', `must be an integer, got ${opts.seed}`);
  }

  const target = rank ?? maxRank ?? full;
  const l = Math.min(target + (opts.oversample ?? DEFAULT_OVERSAMPLE), full);
  const pick = (s: Float64Array): number => rank ?? Math.min(rankForEnergy(s, energy as number, frobenius2), target);
  if (l >= full) {
    // The sketch would be the whole space: compute the exact SVD instead, through AᵀA when A is tall
    // (cheap, and accurate for the leading components; see gram-svd.ts), else by QR + Jacobi.
    const viaGram = rows >= cols ? gramSvd(a, rows, cols, pick) : undefined;
    if (viaGram) return viaGram;
    const svd = exactSvd(a, rows, cols);
    return truncateSvd(svd, pick(svd.s));
  }

  const iterations = opts.powerIterations ?? DEFAULT_POWER_ITERATIONS;
  const route = (opts as RandomizedSvdInternals).route ?? pickRoute(cols, l, rank ?? target, iterations);
  return rangeFinderSvd(a, rows, cols, l, iterations, new GaussianRandom(opts.seed ?? 0), route, pick);
}
