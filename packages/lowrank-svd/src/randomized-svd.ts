// Truncated SVD of a tall float32 matrix by the Halko–Martinsson–Tropp randomized range finder
// (SIAM Review 2011, Algorithms 4.4 + 5.1): Y = A·Ω, subspace (power) iterations with re-orthonormalisation
// (SVQB) after every product, then the small projected matrix B = Qᵀ·A decomposed exactly in float64.
// Memory: one float64 [rows, rank + oversample] buffer plus [cols, rank + oversample] ones; never [rows, rows].
// Cost: 2·powerIterations + 2 products with A (rows·cols·l multiply-adds each, l = rank + oversample) and
// one [rows, l]·[l, rank] product for U; orthonormalising Y explicitly is only needed when it is ill-conditioned.
import { rankForEnergy, assertEnergy } from './choose-rank.js';
import { exactSvd } from './exact-svd.js';
import { GaussianRandom } from './gaussian-random.js';
import { svdColumnMajor } from './jacobi-svd.js';
import { orthonormalizeColumns, svqbTransform } from './orthonormalize-columns.js';
import { SvdOptionError } from './svd-option-error.js';
import type { SvdResult } from './svd-result.js';
import { multiplyInto, multiplyPackedInto, multiplyTransposedInto, packColumns } from './tall-products.js';
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
  /** Subspace iterations, each two more passes over A (default 2). More helps with slowly decaying spectra. */
  powerIterations?: number;
  /** Seed of the Gaussian test matrix (default 0): equal seeds give bit-identical results. */
  seed?: number;
}

const DEFAULT_OVERSAMPLE = 10;
const DEFAULT_POWER_ITERATIONS = 2;
/** Rows per block when forming U = Q·U_B, so the float64 intermediate stays small. */
const BLOCK_ROWS = 256;
/**
 * Largest estimated orthogonality loss u·κ(Y)² for which the final Q stays implicit (Q = Y·M). It bounds the
 * loss of orthogonality of U and the relative error of B = Qᵀ·A; 1e-10 is far below float32 output rounding
 * and holds for κ(Y) = σ1/σ_l up to ~1000. Worse-conditioned sketches take the explicit path.
 */
const IMPLICIT_LOSS = 1e-10;

/**
 * Rank-r truncated SVD of a row-major [rows, cols] matrix (rows = seqLen, cols = nKvHeads·headDim for keys).
 * Products with A read float32 and accumulate in float64; all orthonormalisation and the small SVD are float64.
 * When rank + oversample reaches min(rows, cols) the sketch would be the whole space, so exactSvd is used.
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
    const svd = exactSvd(a, rows, cols);
    return truncateSvd(svd, pick(svd.s));
  }

  const rng = new GaussianRandom(opts.seed ?? 0);
  const z = rng.fillNormal(new Float64Array(cols * l)); // [cols, l] Ω, then orthonormal bases of Aᵀ·Q
  const y = new Float64Array(rows * l); // [rows, l] Y = A·Z (Q = Y·M is never stored unless needed)
  const w = new Float64Array(cols * l); // [cols, l] Aᵀ·Y
  const wq = new Float64Array(cols * l); // [cols, l] Aᵀ·Q
  const gram = new Float64Array(l * l); // [l, l] YᵀY
  const iterations = opts.powerIterations ?? DEFAULT_POWER_ITERATIONS;
  multiplyInto(y, a, rows, cols, z, l);
  let qOfY: Float64Array | undefined; // [l, l] M with Q = Y·M, when Q stays implicit
  for (let it = 0; ; it++) {
    // Orthonormalise Y without touching its [rows, l] entries: Q = Y·M (SVQB), and all that follows needs only
    // Aᵀ·Q = (Aᵀ·Y)·M. The Gram matrix comes free as YᵀY = Zᵀ·(Aᵀ·Y), so each power iteration costs its two
    // products with A plus [cols, l]-sized work.
    multiplyTransposedInto(w, a, cols, y, l, rows);
    multiplyTransposedInto(gram, z, l, w, l, cols);
    symmetrize(gram, l);
    const { m, kept, loss } = svqbTransform(gram, l);
    if (it === iterations) {
      if (kept === l && loss <= IMPLICIT_LOSS) {
        multiplyInto(wq, w, cols, l, m, l);
        qOfY = m;
      } else {
        // Rank-deficient or ill-conditioned Y (e.g. a few huge outlier directions): form Q explicitly,
        // with repeated passes and random fill-in, and pay one more product for Aᵀ·Q.
        orthonormalizeColumns(y, rows, l, rng);
        multiplyTransposedInto(wq, a, cols, y, l, rows);
      }
      break;
    }
    multiplyInto(wq, w, cols, l, m, l); // directions missing from Y come out as zero columns, refilled below
    z.set(wq);
    orthonormalizeColumns(z, cols, l, rng);
    multiplyInto(y, a, rows, cols, z, l);
  }
  const w2 = wq; // Bᵀ = Aᵀ·Q, [cols, l]

  // Bᵀ [cols, l] column-major is B [l, cols] row-major, i.e. the transpose of w.
  const bt = new Float64Array(cols * l);
  for (let c = 0; c < cols; c++) {
    for (let j = 0; j < l; j++) bt[j * cols + c] = w2[c * l + j];
  }
  // Bᵀ = U'·Σ·V'ᵀ, so B = V'·Σ·U'ᵀ: U_B = V' [l, l] and the rows of Vᵀ are the columns of U' [cols, l].
  const small = svdColumnMajor(bt, cols, l);
  const r = pick(small.s);
  const vt = new Float32Array(r * cols);
  const ub = new Float64Array(l * r); // [l, r] row-major: leading columns of V', signs fixed below
  for (let k = 0; k < r; k++) {
    const sign = largestEntrySign(small.u, k * cols, cols);
    for (let c = 0; c < cols; c++) vt[k * cols + c] = sign * small.u[k * cols + c];
    for (let p = 0; p < l; p++) ub[p * r + k] = sign * small.v[k * l + p];
  }
  const u = new Float32Array(rows * r);
  // U = Q·U_B, which is Y·(M·U_B) when Q is implicit.
  const toU = qOfY ? multiplySmall(qOfY, ub, l, r) : ub;
  const ubPacked = packColumns(toU, l, r);
  const block = new Float64Array(BLOCK_ROWS * r);
  for (let i0 = 0; i0 < rows; i0 += BLOCK_ROWS) {
    const b = Math.min(BLOCK_ROWS, rows - i0);
    multiplyPackedInto(block, y.subarray(i0 * l, (i0 + b) * l), b, l, ubPacked, r);
    u.set(b === BLOCK_ROWS ? block : block.subarray(0, b * r), i0 * r);
  }
  return { u, s: small.s.slice(0, r), vt, rows, cols, rank: r };
}

/** m [l, l] · x [l, r], both row-major. */
function multiplySmall(m: Float64Array, x: Float64Array, l: number, r: number): Float64Array {
  const out = new Float64Array(l * r);
  multiplyInto(out, m, l, l, x, r);
  return out;
}

/** g ← (g + gᵀ)/2: a Gram matrix computed as Zᵀ·(AᵀA·Z) is symmetric only up to rounding. */
function symmetrize(g: Float64Array, l: number): void {
  for (let i = 0; i < l; i++) {
    for (let j = i + 1; j < l; j++) {
      const x = (g[i * l + j] + g[j * l + i]) / 2;
      g[i * l + j] = x;
      g[j * l + i] = x;
    }
  }
}

/** +1 or -1: the sign of the largest-magnitude entry of x[o..o+n], the convention shared with exactSvd. */
function largestEntrySign(x: Float64Array, o: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (Math.abs(x[o + i]) > Math.abs(x[o + best])) best = i;
  return x[o + best] < 0 ? -1 : 1;
}
