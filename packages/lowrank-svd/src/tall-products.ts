// The two products with the big matrix that dominate a randomized SVD: A·Z and Aᵀ·Q.
// A is float32 [rows, cols]; everything else is float64 and every sum accumulates in float64 (JS numbers).
// Both kernels keep 16 accumulators in registers (4x4 blocks), so each loaded value feeds four multiply-adds.

/**
 * y[rows, l] = a[rows, cols] · z[cols, l] (all row-major).
 */
export function multiplyInto(
  y: Float64Array,
  a: Float32Array | Float64Array,
  rows: number,
  cols: number,
  z: Float64Array,
  l: number,
): void {
  multiplyPackedInto(y, a, rows, cols, packColumns(z, cols, l), l);
}

/**
 * Packs z [cols, l] as [ceil(l/4), cols, 4] (zero-padded past l), the layout multiplyPackedInto reads:
 * one contiguous stream of Z next to four contiguous rows of A.
 */
export function packColumns(z: Float64Array, cols: number, l: number): Float64Array {
  const blocks = (l + 3) >> 2;
  const zp = new Float64Array(blocks * cols * 4);
  for (let k = 0; k < cols; k++) {
    for (let j = 0; j < l; j++) zp[((j >> 2) * cols + k) * 4 + (j & 3)] = z[k * l + j];
  }
  return zp;
}

/** y[rows, l] = a[rows, cols] · Z where zp is Z [cols, l] packed by packColumns. */
export function multiplyPackedInto(
  y: Float64Array,
  a: Float32Array | Float64Array,
  rows: number,
  cols: number,
  zp: Float64Array,
  l: number,
): void {
  const blocks = (l + 3) >> 2;
  const rows4 = rows - (rows % 4);
  for (let i = 0; i < rows4; i += 4) {
    const a0 = i * cols, a1 = a0 + cols, a2 = a1 + cols, a3 = a2 + cols;
    for (let jb = 0; jb < blocks; jb++) {
      let p = jb * cols * 4;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < cols; k++, p += 4) {
        const b0 = zp[p], b1 = zp[p + 1], b2 = zp[p + 2], b3 = zp[p + 3];
        const x0 = a[a0 + k], x1 = a[a1 + k], x2 = a[a2 + k], x3 = a[a3 + k];
        c00 += x0 * b0; c01 += x0 * b1; c02 += x0 * b2; c03 += x0 * b3;
        c10 += x1 * b0; c11 += x1 * b1; c12 += x1 * b2; c13 += x1 * b3;
        c20 += x2 * b0; c21 += x2 * b1; c22 += x2 * b2; c23 += x2 * b3;
        c30 += x3 * b0; c31 += x3 * b1; c32 += x3 * b2; c33 += x3 * b3;
      }
      const j = jb * 4;
      if (j + 4 <= l) {
        let o = i * l + j;
        y[o] = c00; y[o + 1] = c01; y[o + 2] = c02; y[o + 3] = c03; o += l;
        y[o] = c10; y[o + 1] = c11; y[o + 2] = c12; y[o + 3] = c13; o += l;
        y[o] = c20; y[o + 1] = c21; y[o + 2] = c22; y[o + 3] = c23; o += l;
        y[o] = c30; y[o + 1] = c31; y[o + 2] = c32; y[o + 3] = c33;
      } else {
        storePartial(y, i * l + j, l - j, c00, c01, c02);
        storePartial(y, (i + 1) * l + j, l - j, c10, c11, c12);
        storePartial(y, (i + 2) * l + j, l - j, c20, c21, c22);
        storePartial(y, (i + 3) * l + j, l - j, c30, c31, c32);
      }
    }
  }
  for (let i = rows4; i < rows; i++) {
    for (let j = 0; j < l; j++) {
      let s = 0;
      const p = (j >> 2) * cols * 4 + (j & 3);
      for (let k = 0; k < cols; k++) s += a[i * cols + k] * zp[p + 4 * k];
      y[i * l + j] = s;
    }
  }
}

/** Rows of the big matrix per block in multiplyToFloat32, so the float64 intermediate stays small. */
const BLOCK_ROWS = 256;

/**
 * u[rows, r] (float32) = x[rows, inner] · f[inner, r], blocked over rows so that only a [256, r] float64
 * intermediate exists: how U = A·(V·Σ⁻¹) or U = Y·(M·U_B) is formed without a float64 [rows, r] buffer.
 */
export function multiplyToFloat32(x: Float32Array | Float64Array, rows: number, inner: number, f: Float64Array, r: number): Float32Array {
  const packed = packColumns(f, inner, r);
  const u = new Float32Array(rows * r);
  const block = new Float64Array(BLOCK_ROWS * r);
  for (let i0 = 0; i0 < rows; i0 += BLOCK_ROWS) {
    const b = Math.min(BLOCK_ROWS, rows - i0);
    multiplyPackedInto(block, x.subarray(i0 * inner, (i0 + b) * inner), b, inner, packed, r);
    u.set(b === BLOCK_ROWS ? block : block.subarray(0, b * r), i0 * r);
  }
  return u;
}

/** Writes the first n (1..3) of three values: the last column block when l is not a multiple of 4. */
function storePartial(y: Float64Array, o: number, n: number, v0: number, v1: number, v2: number): void {
  y[o] = v0;
  if (n > 1) y[o + 1] = v1;
  if (n > 2) y[o + 2] = v2;
}

/** Rows of the big matrix per tile in multiplyTransposedInto: the transposed tiles of Q stay in L2. */
const TILE_ROWS = 128;

/**
 * out[mx, my] = xᵀ · y for x [rows, mx] and y [rows, my], both row-major: the sum runs over rows.
 * Tiles of TILE_ROWS rows of x and y are transposed into float64 scratch (padded to multiples of 4
 * with zeros) so the inner loop reads both along rows contiguously.
 * With `upperOnly`, only blocks on or above the diagonal are computed (for a Gram matrix, x === y);
 * the caller mirrors them.
 */
export function multiplyTransposedInto(
  out: Float64Array,
  x: Float32Array | Float64Array,
  mx: number,
  y: Float32Array | Float64Array,
  my: number,
  rows: number,
  upperOnly = false,
): void {
  const mx4 = (mx + 3) & ~3;
  const my4 = (my + 3) & ~3;
  const xt = new Float64Array(mx4 * TILE_ROWS); // [mx4, t] transposed tile of x
  const yt = upperOnly && x === y ? xt : new Float64Array(my4 * TILE_ROWS); // [my4, t]
  const acc = new Float64Array(mx4 * my4); // [mx4, my4]
  for (let i0 = 0; i0 < rows; i0 += TILE_ROWS) {
    const t = Math.min(TILE_ROWS, rows - i0);
    transposeTile(xt, x, mx, i0, t);
    if (yt !== xt) transposeTile(yt, y, my, i0, t);
    accumulateTile(acc, xt, mx4, yt, my4, t, upperOnly);
  }
  for (let c = 0; c < mx; c++) {
    for (let j = 0; j < my; j++) out[c * my + j] = acc[c * my4 + j];
  }
}

/** dst[c * t + k] = src[(i0 + k) * m + c] for c < m; the padding rows of dst stay zero. */
function transposeTile(dst: Float64Array, src: Float32Array | Float64Array, m: number, i0: number, t: number): void {
  // A short last tile changes the stride t, so stale padding from the previous layout must be cleared.
  if (t < TILE_ROWS) dst.fill(0);
  for (let k = 0; k < t; k++) {
    const s = (i0 + k) * m;
    for (let c = 0; c < m; c++) dst[c * t + k] = src[s + c];
  }
}

function accumulateTile(acc: Float64Array, xt: Float64Array, mx4: number, yt: Float64Array, my4: number, t: number, upperOnly: boolean): void {
  for (let c = 0; c < mx4; c += 4) {
    const x0 = c * t, x1 = x0 + t, x2 = x1 + t, x3 = x2 + t;
    for (let j = upperOnly ? c : 0; j < my4; j += 4) {
      const y0 = j * t, y1 = y0 + t, y2 = y1 + t, y3 = y2 + t;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < t; k++) {
        const b0 = yt[y0 + k], b1 = yt[y1 + k], b2 = yt[y2 + k], b3 = yt[y3 + k];
        const a0 = xt[x0 + k], a1 = xt[x1 + k], a2 = xt[x2 + k], a3 = xt[x3 + k];
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
      }
      let o = c * my4 + j;
      acc[o] += c00; acc[o + 1] += c01; acc[o + 2] += c02; acc[o + 3] += c03; o += my4;
      acc[o] += c10; acc[o + 1] += c11; acc[o + 2] += c12; acc[o + 3] += c13; o += my4;
      acc[o] += c20; acc[o + 1] += c21; acc[o + 2] += c22; acc[o + 3] += c23; o += my4;
      acc[o] += c30; acc[o + 1] += c31; acc[o + 2] += c32; acc[o + 3] += c33;
    }
  }
}
