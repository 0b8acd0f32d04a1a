// Eigen-decomposition of a small dense symmetric matrix by cyclic Jacobi rotations, in float64.
// Used on Gram matrices of at most a few hundred columns, where Jacobi's simplicity and accuracy beat speed.

/** Eigenpairs of a symmetric n×n matrix: `values` descending, `vectors` [n, n] row-major with eigenvector k in column k. */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

const MAX_SWEEPS = 60;

/**
 * Eigen-decomposes the symmetric matrix `m` ([n, n] row-major; only read, the upper triangle is trusted).
 * Rotations are skipped once an off-diagonal entry is below float64 rounding of its diagonal pair,
 * which is the usual convergence test of cyclic Jacobi (quadratic once the matrix is near diagonal).
 */
export function symmetricEigen(m: Float64Array, n: number): SymmetricEigen {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      a[i * n + j] = m[i * n + j];
      a[j * n + i] = m[i * n + j];
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const eps = 2.220446049250313e-16;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        if (Math.abs(apq) <= eps * Math.sqrt(Math.abs(app * aqq)) || Math.abs(apq) < 1e-300) {
          a[p * n + q] = 0;
          a[q * n + p] = 0;
          continue;
        }
        rotated = true;
        // Rotation angle that zeroes a[p][q]; the smaller root keeps |t| <= 1 for stability.
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
    if (!rotated) break;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y] - a[x * n + x]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const src = order[k];
    values[k] = a[src * n + src];
    for (let i = 0; i < n; i++) vectors[i * n + k] = v[i * n + src];
  }
  return { values, vectors };
}
