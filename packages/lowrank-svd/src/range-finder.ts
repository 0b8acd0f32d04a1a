// The numerical core of randomizedSvd: randomized subspace iteration on AᵀA (Halko, Martinsson & Tropp 2011,
// Algorithms 4.4 + 5.1), then the small projected matrix B = Qᵀ·A decomposed exactly in float64.
//
// Every step needs A only through W = AᵀA·Z for a [cols, l] block Z, which is evaluated one of two ways:
//  * 'products': Y = A·Z, then W = Aᵀ·Y — two passes over A per step (rows·cols·l multiply-adds each);
//  * 'gram':     C = AᵀA once (rows·cols²/2), then W = C·Z — nothing rows-sized per step.
// Both accumulate A's float32 values in float64 and carry the same rounding (about u·σ1² in W), so the choice
// is by cost alone (pickRoute). The orthonormalisation of Y = A·Z after each product is SVQB applied
// implicitly: Q = Y·M with M from the l×l Gram matrix YᵀY = Zᵀ·W, and everything downstream needs only
// Aᵀ·Q = W·M and U = Q·U_B = Y·(M·U_B). Z is orthonormalised explicitly after each product with Aᵀ.
// Only an ill-conditioned or rank-deficient Y makes Q explicit (repeated SVQB passes with random fill-in).
import type { GaussianRandom } from './gaussian-random.js';
import { svdColumnMajor } from './jacobi-svd.js';
import { orthonormalizeColumns, svqbTransform } from './orthonormalize-columns.js';
import type { SvdResult } from './svd-result.js';
import { multiplyInto, multiplyToFloat32, multiplyTransposedInto } from './tall-products.js';

/** How AᵀA·Z is evaluated; see the file comment. */
export type Route = 'products' | 'gram';

/**
 * Largest estimated orthogonality loss u·κ(Y)² for which the final Q stays implicit. It bounds the loss of
 * orthogonality of U and the relative error of B = Qᵀ·A; 1e-10 is far below float32 output rounding and
 * holds for κ(Y) ≈ σ1/σ_l up to ~1000. Worse-conditioned sketches take the explicit path.
 */
const IMPLICIT_LOSS = 1e-10;

/**
 * The cheaper route by multiply-adds per row of A: 'gram' costs cols²/2 + cols·rank, 'products' costs
 * (2·iterations + 2)·cols·l + l·rank. For keys ([seqLen, 256], rank 32) 'gram' does 0.6x the work.
 */
export function pickRoute(cols: number, l: number, rank: number, iterations: number): Route {
  const gram = (cols * cols) / 2 + cols * rank;
  const products = (2 * iterations + 2) * cols * l + l * rank;
  return gram < products ? 'gram' : 'products';
}

/**
 * Rank-`pickRank(s)` SVD of a [rows, cols] from an l-column sketch (l < min(rows, cols)) after `iterations`
 * subspace iterations; pickRank receives the l estimated singular values and returns a rank <= l.
 */
export function rangeFinderSvd(
  a: Float32Array,
  rows: number,
  cols: number,
  l: number,
  iterations: number,
  rng: GaussianRandom,
  route: Route,
  pickRank: (s: Float64Array) => number,
): SvdResult {
  const z = rng.fillNormal(new Float64Array(cols * l)); // [cols, l] Ω, then orthonormal bases of Aᵀ·Q
  const w = new Float64Array(cols * l); // [cols, l] AᵀA·Z
  const bt = new Float64Array(cols * l); // [cols, l] Aᵀ·Q, and finally Bᵀ
  const gram = new Float64Array(l * l); // [l, l] YᵀY
  let c: Float64Array | undefined; // [cols, cols] AᵀA on the 'gram' route
  let y: Float64Array | undefined; // [rows, l] A·Z on the 'products' route
  if (route === 'gram') {
    c = new Float64Array(cols * cols);
    multiplyTransposedInto(c, a, cols, a, cols, rows, true);
    for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) c[i * cols + j] = c[j * cols + i];
  } else {
    y = new Float64Array(rows * l);
  }

  let m: Float64Array;
  let explicitQ = false;
  for (let it = 0; ; it++) {
    if (c) multiplyInto(w, c, cols, cols, z, l);
    else {
      multiplyInto(y!, a, rows, cols, z, l);
      multiplyTransposedInto(w, a, cols, y!, l, rows);
    }
    multiplyTransposedInto(gram, z, l, w, l, cols);
    symmetrize(gram, l);
    const t = svqbTransform(gram, l);
    m = t.m;
    if (it === iterations) {
      explicitQ = t.kept < l || t.loss > IMPLICIT_LOSS;
      break;
    }
    multiplyInto(bt, w, cols, l, m, l); // directions missing from Y come out as zero columns, refilled below
    z.set(bt);
    orthonormalizeColumns(z, cols, l, rng);
  }

  if (explicitQ) {
    // Rank-deficient or ill-conditioned Y (e.g. a few huge outlier directions): form Q = orth(A·Z) explicitly
    // and pay one more product for Aᵀ·Q.
    y ??= new Float64Array(rows * l);
    multiplyInto(y, a, rows, cols, z, l);
    orthonormalizeColumns(y, rows, l, rng);
    multiplyTransposedInto(bt, a, cols, y, l, rows);
  } else {
    multiplyInto(bt, w, cols, l, m, l);
  }

  // Bᵀ [cols, l] row-major read as column-major is B; Bᵀ = U'·Σ·V'ᵀ, so B = V'·Σ·U'ᵀ:
  // U_B = V' [l, l] and the rows of Vᵀ are the columns of U' [cols, l].
  const btColumns = new Float64Array(cols * l);
  for (let i = 0; i < cols; i++) for (let j = 0; j < l; j++) btColumns[j * cols + i] = bt[i * l + j];
  const small = svdColumnMajor(btColumns, cols, l);
  const r = pickRank(small.s);
  const vt = new Float32Array(r * cols);
  const ub = new Float64Array(l * r); // [l, r] leading columns of V', signs following the vt convention
  for (let k = 0; k < r; k++) {
    const sign = largestEntrySign(small.u, k * cols, cols);
    for (let i = 0; i < cols; i++) vt[k * cols + i] = sign * small.u[k * cols + i];
    for (let p = 0; p < l; p++) ub[p * r + k] = sign * small.v[k * l + p];
  }

  // U = Q·U_B: Q itself when explicit, else Y·(M·U_B), and Y = A·Z on the 'gram' route.
  let source: Float32Array | Float64Array;
  let factor: Float64Array;
  if (explicitQ) {
    source = y!;
    factor = ub;
  } else {
    const mub = new Float64Array(l * r);
    multiplyInto(mub, m, l, l, ub, r);
    if (y) {
      source = y;
      factor = mub;
    } else {
      source = a;
      factor = new Float64Array(cols * r);
      multiplyInto(factor, z, cols, l, mub, r);
    }
  }
  const u = multiplyToFloat32(source, rows, factor.length / r, factor, r);
  return { u, s: small.s.slice(0, r), vt, rows, cols, rank: r };
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
