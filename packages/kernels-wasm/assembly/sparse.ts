// KV layout and sparse decode ops: writeKv, gather/scatter of chunks, the low-rank key rebuild fused with RoPE,
// landmark scores and top-k. Copies are bulk memory.copy; arithmetic is SIMD.
import { ropeRow, softmaxRow } from './elementwise';
import { hsum4, partStart } from './simd';

/** cache[g, start + i, :] = x[i, g*d .. (g+1)*d] for every token i and KV head g. */
export function writeKv(cache: usize, x: usize, m: i32, nKv: i32, cap: i32, d: i32, start: i32): void {
  const rb = <usize>d << 2;
  for (let i = 0; i < m; i++) {
    for (let g = 0; g < nKv; g++) {
      memory.copy(cache + (<usize>g * <usize>cap + <usize>(start + i)) * rb, x + (<usize>i * <usize>nKv + <usize>g) * rb, rb);
    }
  }
}

/** Chunk copies between a full [nKv, rows, d] tensor and a packed [nKv, nSel*cs, d] one; toPacked picks the way. */
export function copyChunks(full: usize, packed: usize, idx: usize, nKv: i32, rows: i32, d: i32, nSel: i32, cs: i32, toPacked: i32, tid: i32, nth: i32): void {
  const total = nKv * nSel;
  const u0 = partStart(total, tid, nth), u1 = partStart(total, tid + 1, nth);
  const rb = <usize>d << 2;
  const chunkBytes = <usize>cs * rb;
  for (let u = u0; u < u1; u++) {
    const g = u / nSel;
    const c = <usize>load<i32>(idx + (<usize>u << 2));
    const f = full + (<usize>g * <usize>rows + c * <usize>cs) * rb;
    const p = packed + <usize>u * chunkBytes;
    if (toPacked) memory.copy(p, f, chunkBytes);
    else memory.copy(f, p, chunkBytes);
  }
}

/**
 * out[g, s*cs + j, :] = rope(a[t, :] · b[g, :, :], t + posOffset) for t = idx[g, s]*cs + j. Four tokens share
 * each loaded row of b (8 columns per pass); rotation uses the cos/sin table rows (t + posOffset - tableBase), or the
 * output row (u*cs + j) when rowTable != 0 (a table built for this call's rows).
 */
export function rebuildKeys(
  out: usize, a: usize, b: usize, idx: usize, rank: i32, nKv: i32, d: i32, nSel: i32, cs: i32,
  posOffset: i32, cosT: usize, sinT: usize, tableBase: i32, rowTable: i32, tid: i32, nth: i32,
): void {
  const total = nKv * nSel;
  const u0 = partStart(total, tid, nth), u1 = partStart(total, tid + 1, nth);
  const rb = <usize>d << 2, ab = <usize>rank << 2;
  const half = d >> 1;
  for (let u = u0; u < u1; u++) {
    const g = u / nSel;
    const t0 = load<i32>(idx + (<usize>u << 2)) * cs;
    const bg = b + <usize>g * <usize>rank * rb;
    const ob = out + <usize>u * <usize>cs * rb;
    let j = 0;
    for (; j + 4 <= cs; j += 4) {
      const ar = a + <usize>(t0 + j) * ab;
      let c = 0;
      for (; c + 8 <= d; c += 8) {
        let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
        let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
        let bo = bg + (<usize>c << 2);
        for (let r = 0; r < rank; r++, bo += rb) {
          const v0 = v128.load(bo), v1 = v128.load(bo, 16);
          const ro = ar + (<usize>r << 2);
          let s = v128.load32_splat(ro); a0 = f32x4.add(a0, f32x4.mul(s, v0)); b0 = f32x4.add(b0, f32x4.mul(s, v1));
          s = v128.load32_splat(ro + ab); a1 = f32x4.add(a1, f32x4.mul(s, v0)); b1 = f32x4.add(b1, f32x4.mul(s, v1));
          s = v128.load32_splat(ro + 2 * ab); a2 = f32x4.add(a2, f32x4.mul(s, v0)); b2 = f32x4.add(b2, f32x4.mul(s, v1));
          s = v128.load32_splat(ro + 3 * ab); a3 = f32x4.add(a3, f32x4.mul(s, v0)); b3 = f32x4.add(b3, f32x4.mul(s, v1));
        }
        const o = ob + <usize>j * rb + (<usize>c << 2);
        v128.store(o, a0); v128.store(o, b0, 16);
        v128.store(o + rb, a1); v128.store(o + rb, b1, 16);
        v128.store(o + 2 * rb, a2); v128.store(o + 2 * rb, b2, 16);
        v128.store(o + 3 * rb, a3); v128.store(o + 3 * rb, b3, 16);
      }
      for (let jj = j; jj < j + 4; jj++) keyColumnsScalar(ob + <usize>jj * rb, a + <usize>(t0 + jj) * ab, bg, rank, d, c);
    }
    for (; j < cs; j++) keyColumnsScalar(ob + <usize>j * rb, a + <usize>(t0 + j) * ab, bg, rank, d, 0);
    for (let jj = 0; jj < cs; jj++) {
      const trow = (<usize>(rowTable ? u * cs + jj : t0 + jj + posOffset - tableBase) * <usize>half) << 2;
      ropeRow(ob + <usize>jj * rb, cosT + trow, sinT + trow, half);
    }
  }
}

/** Columns c0..d of one rebuilt key row (4 at a time, then singles). */
function keyColumnsScalar(o: usize, ar: usize, bg: usize, rank: i32, d: i32, c0: i32): void {
  const rb = <usize>d << 2;
  let c = c0;
  for (; c + 4 <= d; c += 4) {
    let acc = f32x4.splat(0);
    let bo = bg + (<usize>c << 2);
    for (let r = 0; r < rank; r++, bo += rb) acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(ar + (<usize>r << 2)), v128.load(bo)));
    v128.store(o + (<usize>c << 2), acc);
  }
  for (; c < d; c++) {
    let s: f32 = 0;
    for (let r = 0; r < rank; r++) s += load<f32>(ar + (<usize>r << 2)) * load<f32>(bg + <usize>r * rb + (<usize>c << 2));
    store<f32>(o + (<usize>c << 2), s);
  }
}

/** Scratch bytes landmarkScores needs per thread (two rows of scores). */
export function landmarkScratchBytes(nChunks: i32): i32 {
  return nChunks * 8 + 32;
}

/**
 * out[g, c] = max over the query heads h of KV head g of softmax_c(scale * q_h · landmark[g, c]); threads split
 * the KV heads. Query heads go two at a time (GQA): each landmark row loaded once serves both, four chunks per
 * pass. Each head's sums run in the same order as one head alone, so the scores do not depend on the pairing.
 */
export function landmarkScores(out: usize, q: usize, lm: usize, nHeads: i32, nKv: i32, nChunks: i32, d: i32, scale: f32, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  const group = nHeads / nKv;
  const g0 = partStart(nKv, tid, nth), g1 = partStart(nKv, tid + 1, nth);
  const row0 = scratch + <usize>tid * scratchStride;
  const row1 = row0 + (((<usize>nChunks << 2) + 15) & ~15);
  const rb = <usize>d << 2;
  for (let g = g0; g < g1; g++) {
    const og = out + ((<usize>g * <usize>nChunks) << 2);
    const lg = lm + <usize>g * <usize>nChunks * rb;
    let hh = 0;
    for (; hh + 2 <= group; hh += 2) {
      const qh = q + <usize>(g * group + hh) * rb;
      headPairLogits(row0, row1, qh, qh + rb, lg, nChunks, d, scale);
      softmaxRow(row0, row0, nChunks);
      softmaxRow(row1, row1, nChunks);
      mergeMax(og, row0, nChunks, hh == 0);
      mergeMax(og, row1, nChunks, false);
    }
    if (hh < group) {
      headLogits(row0, q + <usize>(g * group + hh) * rb, lg, nChunks, d, scale);
      softmaxRow(row0, row0, nChunks);
      mergeMax(og, row0, nChunks, hh == 0);
    }
  }
}

/** og = row (first) or max(og, row), elementwise over n. */
function mergeMax(og: usize, row: usize, n: i32, first: bool): void {
  if (first) {
    memory.copy(og, row, <usize>n << 2);
    return;
  }
  let c = 0;
  for (; c + 4 <= n; c += 4) {
    const o = <usize>c << 2;
    v128.store(og + o, f32x4.max(v128.load(og + o), v128.load(row + o)));
  }
  for (; c < n; c++) {
    const o = <usize>c << 2;
    store<f32>(og + o, max(load<f32>(og + o), load<f32>(row + o)));
  }
}

/** row[c] = scale * qh · lg[c] for one query head, four chunks per pass. */
function headLogits(row: usize, qh: usize, lg: usize, nChunks: i32, d: i32, scale: f32): void {
  const rb = <usize>d << 2;
  const d4 = d & ~3;
  const sc = f32x4.splat(scale);
  let c = 0;
  for (; c + 4 <= nChunks; c += 4) {
    const l0 = lg + <usize>c * rb, l1 = l0 + rb, l2 = l1 + rb, l3 = l2 + rb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let e = 0; e < d4; e += 4) {
      const o = <usize>e << 2;
      const x = v128.load(qh + o);
      a0 = f32x4.add(a0, f32x4.mul(x, v128.load(l0 + o)));
      a1 = f32x4.add(a1, f32x4.mul(x, v128.load(l1 + o)));
      a2 = f32x4.add(a2, f32x4.mul(x, v128.load(l2 + o)));
      a3 = f32x4.add(a3, f32x4.mul(x, v128.load(l3 + o)));
    }
    v128.store(row + (<usize>c << 2), f32x4.mul(logitTail(hsum4(a0, a1, a2, a3), qh, l0, rb, d4, d), sc));
  }
  for (; c < nChunks; c++) store<f32>(row + (<usize>c << 2), chunkDot(qh, lg + <usize>c * rb, d) * scale);
}

/** headLogits for two query heads at once (rows r0, r1), each with headLogits' arithmetic. */
function headPairLogits(r0: usize, r1: usize, qa: usize, qb: usize, lg: usize, nChunks: i32, d: i32, scale: f32): void {
  const rb = <usize>d << 2;
  const d4 = d & ~3;
  const sc = f32x4.splat(scale);
  let c = 0;
  for (; c + 4 <= nChunks; c += 4) {
    const l0 = lg + <usize>c * rb, l1 = l0 + rb, l2 = l1 + rb, l3 = l2 + rb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let e = 0; e < d4; e += 4) {
      const o = <usize>e << 2;
      const x = v128.load(qa + o), y = v128.load(qb + o);
      const k0 = v128.load(l0 + o), k1 = v128.load(l1 + o), k2 = v128.load(l2 + o), k3 = v128.load(l3 + o);
      a0 = f32x4.add(a0, f32x4.mul(x, k0)); b0 = f32x4.add(b0, f32x4.mul(y, k0));
      a1 = f32x4.add(a1, f32x4.mul(x, k1)); b1 = f32x4.add(b1, f32x4.mul(y, k1));
      a2 = f32x4.add(a2, f32x4.mul(x, k2)); b2 = f32x4.add(b2, f32x4.mul(y, k2));
      a3 = f32x4.add(a3, f32x4.mul(x, k3)); b3 = f32x4.add(b3, f32x4.mul(y, k3));
    }
    v128.store(r0 + (<usize>c << 2), f32x4.mul(logitTail(hsum4(a0, a1, a2, a3), qa, l0, rb, d4, d), sc));
    v128.store(r1 + (<usize>c << 2), f32x4.mul(logitTail(hsum4(b0, b1, b2, b3), qb, l0, rb, d4, d), sc));
  }
  for (; c < nChunks; c++) {
    const l = lg + <usize>c * rb;
    store<f32>(r0 + (<usize>c << 2), chunkDot(qa, l, d) * scale);
    store<f32>(r1 + (<usize>c << 2), chunkDot(qb, l, d) * scale);
  }
}

/** r plus, per lane i, the dimensions d4..d of q · landmark (l0 + i*rb) (headDim not a multiple of 4). */
@inline function logitTail(r: v128, qh: usize, l0: usize, rb: usize, d4: i32, d: i32): v128 {
  for (let e = d4; e < d; e++) {
    const o = <usize>e << 2;
    r = f32x4.add(r, f32x4.mul(f32x4.splat(load<f32>(qh + o)), f32x4(load<f32>(l0 + o), load<f32>(l0 + rb + o), load<f32>(l0 + 2 * rb + o), load<f32>(l0 + 3 * rb + o))));
  }
  return r;
}

/** Scalar q · landmark over d dimensions (the last chunks when nChunks is not a multiple of 4). */
@inline function chunkDot(qh: usize, l: usize, d: i32): f32 {
  let s: f32 = 0;
  for (let e = 0; e < d; e++) s += load<f32>(qh + (<usize>e << 2)) * load<f32>(l + (<usize>e << 2));
  return s;
}

/** Scratch bytes topK needs per thread. */
export function topKScratchBytes(n: i32): i32 {
  return n * 4 + 16;
}

/**
 * Indices of the k largest of each row, ascending; ties go to lower indices (as the reference). Quickselect
 * (median of three) finds the k-th largest value on a scratch copy; a SIMD pass counts the values above it and
 * one pass collects them in index order. Threads split the rows.
 */
export function topK(out: usize, x: usize, rows: i32, n: i32, k: i32, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  const r0 = partStart(rows, tid, nth), r1 = partStart(rows, tid + 1, nth);
  const a = scratch + <usize>tid * scratchStride;
  for (let r = r0; r < r1; r++) {
    const xr = x + ((<usize>r * <usize>n) << 2);
    const orow = out + ((<usize>r * <usize>k) << 2);
    if (k == 0) continue;
    if (k == n) {
      for (let i = 0; i < n; i++) store<i32>(orow + (<usize>i << 2), i);
      continue;
    }
    memory.copy(a, xr, <usize>n << 2);
    const thr = kthLargest(a, n, k);
    const tv = f32x4.splat(thr);
    let cnt = i32x4.splat(0);
    let i = 0;
    for (; i + 4 <= n; i += 4) cnt = i32x4.sub(cnt, f32x4.gt(v128.load(xr + (<usize>i << 2)), tv));
    let greater = i32x4.extract_lane(cnt, 0) + i32x4.extract_lane(cnt, 1) + i32x4.extract_lane(cnt, 2) + i32x4.extract_lane(cnt, 3);
    for (; i < n; i++) if (load<f32>(xr + (<usize>i << 2)) > thr) greater++;
    let ties = k - greater;
    let w = orow;
    for (let j = 0; j < n; j++) {
      const v = load<f32>(xr + (<usize>j << 2));
      if (v > thr) { store<i32>(w, j); w += 4; }
      else if (v == thr && ties > 0) { ties--; store<i32>(w, j); w += 4; }
    }
  }
}

/** The k-th largest of a[0..n) (1-based k); reorders a. */
function kthLargest(a: usize, n: i32, k: i32): f32 {
  let lo = 0, hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const x = load<f32>(a + (<usize>lo << 2)), y = load<f32>(a + (<usize>mid << 2)), z = load<f32>(a + (<usize>hi << 2));
    const pivot = x > y ? (y > z ? y : x > z ? z : x) : x > z ? x : y > z ? z : y;
    let i = lo, j = hi;
    while (i <= j) {
      while (load<f32>(a + (<usize>i << 2)) > pivot) i++;
      while (load<f32>(a + (<usize>j << 2)) < pivot) j--;
      if (i <= j) {
        const t = load<f32>(a + (<usize>i << 2));
        store<f32>(a + (<usize>i << 2), load<f32>(a + (<usize>j << 2)));
        store<f32>(a + (<usize>j << 2), t);
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return load<f32>(a + (<usize>target << 2));
  }
  return load<f32>(a + (<usize>target << 2));
}
