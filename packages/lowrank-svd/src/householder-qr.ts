// Thin Householder QR of a column-major float64 matrix, the preconditioner of the Jacobi SVD.
// Column-major because every reflector step is a dot product and an axpy down contiguous columns.

/** x = Q·R for x [m, n] column-major (m >= n). Reflectors are kept in x below the diagonal (LAPACK style). */
export interface HouseholderQr {
  /** [m, n] column-major: R on and above the diagonal, reflector tails below it (leading 1 implicit). */
  x: Float64Array;
  /** [n] scalar factors of the reflectors H_j = I - tau_j·v_j·v_jᵀ; 0 means H_j = I. */
  tau: Float64Array;
  m: number;
  n: number;
}

/** Factorises x ([m, n] column-major, m >= n) in place. */
export function householderQrInPlace(x: Float64Array, m: number, n: number): HouseholderQr {
  const tau = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const cj = j * m;
    let tail = 0;
    for (let i = j + 1; i < m; i++) tail += x[cj + i] * x[cj + i];
    const alpha = x[cj + j];
    if (tail === 0) continue; // already upper-triangular in this column: H_j = I
    const norm = Math.sqrt(alpha * alpha + tail);
    // beta takes the sign opposite to alpha so that alpha - beta never cancels.
    const beta = alpha >= 0 ? -norm : norm;
    tau[j] = (beta - alpha) / beta;
    const scale = 1 / (alpha - beta);
    for (let i = j + 1; i < m; i++) x[cj + i] *= scale;
    x[cj + j] = beta;
    for (let k = j + 1; k < n; k++) reflect(x, cj, j, tau[j], x, k * m, m);
  }
  return { x, tau, m, n };
}

/** Applies H_j (stored in column j of qr.x) to the column of `y` starting at yo (rows j..m-1 are touched). */
function reflect(v: Float64Array, vo: number, j: number, tau: number, y: Float64Array, yo: number, m: number): void {
  let w = y[yo + j];
  for (let i = j + 1; i < m; i++) w += v[vo + i] * y[yo + i];
  w *= tau;
  y[yo + j] -= w;
  for (let i = j + 1; i < m; i++) y[yo + i] -= w * v[vo + i];
}

/** Copies R ([n, n] column-major, zeros below the diagonal) out of a factorisation. */
export function extractR(qr: HouseholderQr): Float64Array {
  const { x, m, n } = qr;
  const r = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i <= j; i++) r[j * n + i] = x[j * m + i];
  }
  return r;
}

/** Returns Q·[c; 0] for c [n, k] column-major: an [m, k] column-major matrix. */
export function applyQ(qr: HouseholderQr, c: Float64Array, k: number): Float64Array {
  const { x, tau, m, n } = qr;
  const out = new Float64Array(m * k);
  for (let col = 0; col < k; col++) {
    for (let i = 0; i < n; i++) out[col * m + i] = c[col * n + i];
  }
  // Q = H_0·H_1···H_{n-1}, so the last reflector acts first.
  for (let j = n - 1; j >= 0; j--) {
    if (tau[j] === 0) continue;
    for (let col = 0; col < k; col++) reflect(x, j * m, j, tau[j], out, col * m, m);
  }
  return out;
}
