// Orthonormalises the columns of a tall float64 matrix in place (SVQB: Gram matrix + eigen-decomposition,
// Stathopoulos & Wu 2002), the QR step of the randomized range finder.
// Why not Gram-Schmidt or Householder: those sweep the [n, l] matrix l times; SVQB reads it twice per pass
// (Gram, then Y·M) with register-blocked kernels. Its orthogonality loss after one pass is about
// u·κ² (u = 2^-53, κ the condition number of Y), so passes repeat until that estimate is tiny.
import type { GaussianRandom } from './gaussian-random.js';
import { symmetricEigen } from './symmetric-eigen.js';
import { multiplyPackedInto, multiplyTransposedInto, packColumns } from './tall-products.js';

/**
 * Eigenvalues of the unit-diagonal Gram matrix below DROP·λmax are treated as zero: their directions are
 * at most sqrt(DROP) ≈ 1e-7 of the largest column, below float32 resolution of the input, and the Gram
 * matrix cannot resolve them reliably in float64 anyway (its absolute accuracy is about u·λmax).
 */
const DROP = 1e-14;
/** A pass whose estimated orthogonality loss u·κ² is below this ends the loop. */
const ORTHOGONALITY = 1e-13;
const MAX_PASSES = 5;
const U64 = 1.1102230246251565e-16;

/** The SVQB column transform of a Gram matrix: Y·m has orthonormal columns (up to u·κ²) where Y has full rank. */
export interface SvqbTransform {
  /** [l, l] row-major; columns kept..l-1 are zero (directions numerically absent from Y). */
  m: Float64Array;
  /** Number of directions kept, in columns 0..kept-1 of m. */
  kept: number;
  /** u·κ² of the kept part: the orthogonality loss to expect from one pass. */
  loss: number;
}

/**
 * Computes the SVQB transform from the Gram matrix gram = YᵀY ([l, l], upper triangle read).
 * Scaling to unit diagonal first makes it insensitive to very different column norms.
 */
export function svqbTransform(gram: Float64Array, l: number): SvqbTransform {
  const d = new Float64Array(l);
  for (let j = 0; j < l; j++) {
    const g = gram[j * l + j];
    d[j] = g > 0 ? 1 / Math.sqrt(g) : 0;
  }
  const scaled = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    for (let j = i; j < l; j++) scaled[i * l + j] = gram[i * l + j] * d[i] * d[j];
  }
  const { values, vectors } = symmetricEigen(scaled, l);
  const lambdaMax = values[0];
  let kept = 0;
  while (kept < l && lambdaMax > 0 && values[kept] > DROP * lambdaMax) kept++;
  const m = new Float64Array(l * l);
  for (let k = 0; k < kept; k++) {
    const f = 1 / Math.sqrt(values[k]);
    for (let i = 0; i < l; i++) m[i * l + k] = d[i] * vectors[i * l + k] * f;
  }
  return { m, kept, loss: kept > 0 ? U64 * (lambdaMax / values[kept - 1]) : 0 };
}

/**
 * Makes the l columns of y ([n, l] row-major, n >= l) orthonormal, in place, spanning the same space.
 * Directions that are numerically absent (rank-deficient y, zero columns) are replaced by random ones
 * from `rng`, so the result always has l orthonormal columns.
 */
export function orthonormalizeColumns(y: Float64Array, n: number, l: number, rng: GaussianRandom): void {
  const gram = new Float64Array(l * l);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    multiplyTransposedInto(gram, y, l, y, l, n, true);
    const { m, kept, loss } = svqbTransform(gram, l);
    applyInPlace(y, n, l, m);
    if (kept < l) {
      // Fill the lost directions with random vectors; the next pass orthogonalises them against the rest.
      for (let i = 0; i < n; i++) {
        for (let k = kept; k < l; k++) y[i * l + k] = rng.nextNormal();
      }
      continue;
    }
    if (loss <= ORTHOGONALITY) return;
  }
}

/** Rows per block of applyInPlace: small enough for the scratch to stay in L1/L2. */
const APPLY_ROWS = 64;

/** y ← y·m in blocks of rows (each row needs only itself), so no second [n, l] buffer is allocated. */
function applyInPlace(y: Float64Array, n: number, l: number, m: Float64Array): void {
  const mp = packColumns(m, l, l);
  const out = new Float64Array(APPLY_ROWS * l);
  for (let i0 = 0; i0 < n; i0 += APPLY_ROWS) {
    const b = Math.min(APPLY_ROWS, n - i0);
    multiplyPackedInto(out, y.subarray(i0 * l, (i0 + b) * l), b, l, mp, l);
    y.set(b === APPLY_ROWS ? out : out.subarray(0, b * l), i0 * l);
  }
}
