// Attention over the head-major KV layout [nKvHeads, capacity, headDim], GQA aware: the query rows that share a
// KV head (its whole group, for every token) are processed four at a time, so each key and value row loaded
// serves four queries, and for decode (m = 1, group <= 4) each KV head is read exactly once; blocks with at most
// two distinct rows (GQA groups of 1 or 2 at decode) take a two-row path instead of computing padding rows. Scores
// of the four rows are kept interleaved (s[j*4 + t]) so the masked softmax runs on whole vectors, one lane per
// row; the two-row path keeps two keys per vector (s[j*2 + t]).
import { hsum4, partStart, vexp } from './simd';

/** Scratch bytes one thread needs for kvLen keys. */
export function attentionScratchBytes(kvLen: i32): i32 {
  return kvLen * 16 + 16;
}

@inline function lane(v: v128, t: i32): v128 {
  if (t == 0) return v128.shuffle<f32>(v, v, 0, 0, 0, 0);
  if (t == 1) return v128.shuffle<f32>(v, v, 1, 1, 1, 1);
  if (t == 2) return v128.shuffle<f32>(v, v, 2, 2, 2, 2);
  return v128.shuffle<f32>(v, v, 3, 3, 3, 3);
}

/** s[j*4 + t] = scale * q_t · k_j for four query rows and keys j < n, two keys per pass. */
function scores4(s: usize, q0: usize, q1: usize, q2: usize, q3: usize, kb: usize, d: i32, n: i32, scale: f32): void {
  const rs = <usize>d << 2;
  const d4 = d & ~3;
  const sc = f32x4.splat(scale);
  let j = 0;
  for (; j + 2 <= n; j += 2) {
    const ka = kb + <usize>j * rs, kk = ka + rs;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const o = <usize>c << 2;
      const va = v128.load(ka + o), vb = v128.load(kk + o);
      let x = v128.load(q0 + o); a0 = f32x4.add(a0, f32x4.mul(x, va)); b0 = f32x4.add(b0, f32x4.mul(x, vb));
      x = v128.load(q1 + o); a1 = f32x4.add(a1, f32x4.mul(x, va)); b1 = f32x4.add(b1, f32x4.mul(x, vb));
      x = v128.load(q2 + o); a2 = f32x4.add(a2, f32x4.mul(x, va)); b2 = f32x4.add(b2, f32x4.mul(x, vb));
      x = v128.load(q3 + o); a3 = f32x4.add(a3, f32x4.mul(x, va)); b3 = f32x4.add(b3, f32x4.mul(x, vb));
    }
    let ra = hsum4(a0, a1, a2, a3), rb = hsum4(b0, b1, b2, b3);
    for (let c = d4; c < d; c++) {
      const o = <usize>c << 2;
      const qv = f32x4(load<f32>(q0 + o), load<f32>(q1 + o), load<f32>(q2 + o), load<f32>(q3 + o));
      ra = f32x4.add(ra, f32x4.mul(qv, f32x4.splat(load<f32>(ka + o))));
      rb = f32x4.add(rb, f32x4.mul(qv, f32x4.splat(load<f32>(kk + o))));
    }
    v128.store(s + (<usize>j << 4), f32x4.mul(ra, sc));
    v128.store(s + (<usize>j << 4), f32x4.mul(rb, sc), 16);
  }
  if (j < n) {
    const ka = kb + <usize>j * rs;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const o = <usize>c << 2;
      const va = v128.load(ka + o);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(q0 + o), va));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(q1 + o), va));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(q2 + o), va));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(q3 + o), va));
    }
    let ra = hsum4(a0, a1, a2, a3);
    for (let c = d4; c < d; c++) {
      const o = <usize>c << 2;
      const qv = f32x4(load<f32>(q0 + o), load<f32>(q1 + o), load<f32>(q2 + o), load<f32>(q3 + o));
      ra = f32x4.add(ra, f32x4.mul(qv, f32x4.splat(load<f32>(ka + o))));
    }
    v128.store(s + (<usize>j << 4), f32x4.mul(ra, sc));
  }
}

/**
 * Masks keys j >= lim_t of row t with -Infinity, exponentiates against each row's max and returns the four
 * row sums (a row that sees no key sums to 0 and gets a zero output, as in the reference).
 */
function softmax4(s: usize, lims: v128, minLim: i32, n: i32): v128 {
  const ninf = f32x4.splat(-Infinity);
  for (let j = minLim; j < n; j++) {
    const a = s + (<usize>j << 4);
    const keep = i32x4.gt_s(lims, i32x4.splat(j));
    v128.store(a, v128.bitselect(v128.load(a), ninf, keep));
  }
  let mx = f32x4.splat(-3.4e38);
  for (let j = 0; j < n; j++) mx = f32x4.max(mx, v128.load(s + (<usize>j << 4)));
  let sum = f32x4.splat(0);
  for (let j = 0; j < n; j++) {
    const a = s + (<usize>j << 4);
    const e = vexp(f32x4.sub(v128.load(a), mx));
    v128.store(a, e);
    sum = f32x4.add(sum, e);
  }
  return sum;
}

/** out rows t < nr: (Σ_j p[j, t] v_j) * inv_t, 16 output columns (one cache line of v) per pass. */
function weightedValues4(o0: usize, o1: usize, o2: usize, o3: usize, nr: i32, s: usize, vb: usize, d: i32, n: i32, inv: v128): void {
  const rs = <usize>d << 2;
  const i0 = lane(inv, 0), i1 = lane(inv, 1), i2 = lane(inv, 2), i3 = lane(inv, 3);
  let c = 0;
  for (; c + 16 <= d; c += 16) {
    let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
    let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
    let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a22 = f32x4.splat(0), a23 = f32x4.splat(0);
    let a30 = f32x4.splat(0), a31 = f32x4.splat(0), a32 = f32x4.splat(0), a33 = f32x4.splat(0);
    let vo = vb + (<usize>c << 2);
    for (let j = 0; j < n; j++, vo += rs) {
      const pv = v128.load(s + (<usize>j << 4));
      const v0 = v128.load(vo), v1 = v128.load(vo, 16), v2 = v128.load(vo, 32), v3 = v128.load(vo, 48);
      let p = lane(pv, 0);
      a00 = f32x4.add(a00, f32x4.mul(p, v0)); a01 = f32x4.add(a01, f32x4.mul(p, v1)); a02 = f32x4.add(a02, f32x4.mul(p, v2)); a03 = f32x4.add(a03, f32x4.mul(p, v3));
      p = lane(pv, 1);
      a10 = f32x4.add(a10, f32x4.mul(p, v0)); a11 = f32x4.add(a11, f32x4.mul(p, v1)); a12 = f32x4.add(a12, f32x4.mul(p, v2)); a13 = f32x4.add(a13, f32x4.mul(p, v3));
      p = lane(pv, 2);
      a20 = f32x4.add(a20, f32x4.mul(p, v0)); a21 = f32x4.add(a21, f32x4.mul(p, v1)); a22 = f32x4.add(a22, f32x4.mul(p, v2)); a23 = f32x4.add(a23, f32x4.mul(p, v3));
      p = lane(pv, 3);
      a30 = f32x4.add(a30, f32x4.mul(p, v0)); a31 = f32x4.add(a31, f32x4.mul(p, v1)); a32 = f32x4.add(a32, f32x4.mul(p, v2)); a33 = f32x4.add(a33, f32x4.mul(p, v3));
    }
    const co = <usize>c << 2;
    v128.store(o0 + co, f32x4.mul(a00, i0)); v128.store(o0 + co, f32x4.mul(a01, i0), 16); v128.store(o0 + co, f32x4.mul(a02, i0), 32); v128.store(o0 + co, f32x4.mul(a03, i0), 48);
    if (nr > 1) { v128.store(o1 + co, f32x4.mul(a10, i1)); v128.store(o1 + co, f32x4.mul(a11, i1), 16); v128.store(o1 + co, f32x4.mul(a12, i1), 32); v128.store(o1 + co, f32x4.mul(a13, i1), 48); }
    if (nr > 2) { v128.store(o2 + co, f32x4.mul(a20, i2)); v128.store(o2 + co, f32x4.mul(a21, i2), 16); v128.store(o2 + co, f32x4.mul(a22, i2), 32); v128.store(o2 + co, f32x4.mul(a23, i2), 48); }
    if (nr > 3) { v128.store(o3 + co, f32x4.mul(a30, i3)); v128.store(o3 + co, f32x4.mul(a31, i3), 16); v128.store(o3 + co, f32x4.mul(a32, i3), 32); v128.store(o3 + co, f32x4.mul(a33, i3), 48); }
  }
  for (; c + 4 <= d; c += 4) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let vo = vb + (<usize>c << 2);
    for (let j = 0; j < n; j++, vo += rs) {
      const pv = v128.load(s + (<usize>j << 4));
      const v0 = v128.load(vo);
      a0 = f32x4.add(a0, f32x4.mul(lane(pv, 0), v0)); a1 = f32x4.add(a1, f32x4.mul(lane(pv, 1), v0));
      a2 = f32x4.add(a2, f32x4.mul(lane(pv, 2), v0)); a3 = f32x4.add(a3, f32x4.mul(lane(pv, 3), v0));
    }
    const co = <usize>c << 2;
    v128.store(o0 + co, f32x4.mul(a0, i0));
    if (nr > 1) v128.store(o1 + co, f32x4.mul(a1, i1));
    if (nr > 2) v128.store(o2 + co, f32x4.mul(a2, i2));
    if (nr > 3) v128.store(o3 + co, f32x4.mul(a3, i3));
  }
  for (; c < d; c++) {
    let acc = f32x4.splat(0);
    let vo = vb + (<usize>c << 2);
    for (let j = 0; j < n; j++, vo += rs) acc = f32x4.add(acc, f32x4.mul(v128.load(s + (<usize>j << 4)), f32x4.splat(load<f32>(vo))));
    acc = f32x4.mul(acc, inv);
    const co = <usize>c << 2;
    store<f32>(o0 + co, f32x4.extract_lane(acc, 0));
    if (nr > 1) store<f32>(o1 + co, f32x4.extract_lane(acc, 1));
    if (nr > 2) store<f32>(o2 + co, f32x4.extract_lane(acc, 2));
    if (nr > 3) store<f32>(o3 + co, f32x4.extract_lane(acc, 3));
  }
}

/**
 * Two-row variant of scores4 for blocks with at most two distinct rows (decode with a GQA group of 1 or 2), in
 * the pair layout s[j*2 + t] = scale * q_t · k_j: a vector holds two keys of both rows, so the softmax and the
 * weighted sum touch half the lanes that padding to four rows would (rows 0, 1 repeated in lanes 2, 3).
 */
function scores2(s: usize, q0: usize, q1: usize, kb: usize, d: i32, n: i32, scale: f32): void {
  const rs = <usize>d << 2;
  const d4 = d & ~3;
  const sc = f32x4.splat(scale);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const k0 = kb + <usize>j * rs, k1 = k0 + rs, k2 = k1 + rs, k3 = k2 + rs;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const o = <usize>c << 2;
      const x = v128.load(q0 + o), y = v128.load(q1 + o);
      let kv = v128.load(k0 + o); a0 = f32x4.add(a0, f32x4.mul(x, kv)); b0 = f32x4.add(b0, f32x4.mul(y, kv));
      kv = v128.load(k1 + o); a1 = f32x4.add(a1, f32x4.mul(x, kv)); b1 = f32x4.add(b1, f32x4.mul(y, kv));
      kv = v128.load(k2 + o); a2 = f32x4.add(a2, f32x4.mul(x, kv)); b2 = f32x4.add(b2, f32x4.mul(y, kv));
      kv = v128.load(k3 + o); a3 = f32x4.add(a3, f32x4.mul(x, kv)); b3 = f32x4.add(b3, f32x4.mul(y, kv));
    }
    let ra = hsum4(a0, a1, a2, a3), rb = hsum4(b0, b1, b2, b3); // row 0 / row 1 against keys j..j+3
    for (let c = d4; c < d; c++) {
      const o = <usize>c << 2;
      const kv = f32x4(load<f32>(k0 + o), load<f32>(k1 + o), load<f32>(k2 + o), load<f32>(k3 + o));
      ra = f32x4.add(ra, f32x4.mul(f32x4.splat(load<f32>(q0 + o)), kv));
      rb = f32x4.add(rb, f32x4.mul(f32x4.splat(load<f32>(q1 + o)), kv));
    }
    ra = f32x4.mul(ra, sc);
    rb = f32x4.mul(rb, sc);
    // Interleave to s[(j+i)*2 + t]: [row0 k_j, row1 k_j, row0 k_j+1, row1 k_j+1], then keys j+2, j+3.
    const a = s + (<usize>j << 3);
    v128.store(a, v128.shuffle<f32>(ra, rb, 0, 4, 1, 5));
    v128.store(a, v128.shuffle<f32>(ra, rb, 2, 6, 3, 7), 16);
  }
  for (; j < n; j++) {
    const ka = kb + <usize>j * rs;
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const o = <usize>c << 2;
      const kv = v128.load(ka + o);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(q0 + o), kv));
      b0 = f32x4.add(b0, f32x4.mul(v128.load(q1 + o), kv));
    }
    let r = hsum4(a0, b0, a0, b0);
    for (let c = d4; c < d; c++) {
      const o = <usize>c << 2;
      const qv = f32x4(load<f32>(q0 + o), load<f32>(q1 + o), load<f32>(q0 + o), load<f32>(q1 + o));
      r = f32x4.add(r, f32x4.mul(qv, f32x4.splat(load<f32>(ka + o))));
    }
    r = f32x4.mul(r, sc);
    const a = s + (<usize>j << 3);
    store<f32>(a, f32x4.extract_lane(r, 0));
    store<f32>(a, f32x4.extract_lane(r, 1), 4);
  }
}

/**
 * softmax4 for the pair layout of scores2: masks key j of row t when j >= lim_t (and the unused half of the
 * last vector when n is odd) and returns [sum0, sum1, sum0, sum1].
 */
function softmax2(s: usize, l0: i32, l1: i32, n: i32): v128 {
  const nv = (n + 1) >> 1;
  const ninf = f32x4.splat(-Infinity);
  const lims = i32x4(l0, l1, l0, l1);
  for (let v = min(l0, l1) >> 1; v < nv; v++) {
    const a = s + (<usize>v << 4);
    const keep = i32x4.gt_s(lims, i32x4(2 * v, 2 * v, 2 * v + 1, 2 * v + 1));
    v128.store(a, v128.bitselect(v128.load(a), ninf, keep));
  }
  let mx = f32x4.splat(-3.4e38);
  for (let v = 0; v < nv; v++) mx = f32x4.max(mx, v128.load(s + (<usize>v << 4)));
  mx = f32x4.max(mx, v128.shuffle<f32>(mx, mx, 2, 3, 0, 1));
  let sum = f32x4.splat(0);
  for (let v = 0; v < nv; v++) {
    const a = s + (<usize>v << 4);
    const e = vexp(f32x4.sub(v128.load(a), mx));
    v128.store(a, e);
    sum = f32x4.add(sum, e);
  }
  return f32x4.add(sum, v128.shuffle<f32>(sum, sum, 2, 3, 0, 1));
}

/** Keys per block of the weighted-value pass (16 KiB of f32 values at head dim 64: the block stays in L1). */
const VBLOCK: i32 = 64;

/**
 * Two-row variant of weightedValues4 over the pair layout: rows 0 and (when nr > 1) 1, two keys per pass. The keys
 * go in blocks of VBLOCK: each block's values are read from memory once, by the first 16-column slab, and from
 * L1 by the others (slab by slab over the whole cache read v with a 256-byte stride, four times over). The
 * slab's accumulators wait in the output rows between blocks, so every output is summed in the same order as
 * without blocks (keys ascending), bit for bit.
 */
function weightedValues2(o0: usize, o1: usize, nr: i32, s: usize, vb: usize, d: i32, n: i32, inv: v128): void {
  const rs = <usize>d << 2;
  const i0 = lane(inv, 0), i1 = lane(inv, 1);
  const n2 = n & ~1;
  const d16 = d & ~15;
  // Row 1's accumulators go to o1, or to o0 when there is no row 1 (overwritten by row 0's right after).
  const p1 = nr > 1 ? o1 : o0;
  for (let c = 0; c < d16; c += 16) {
    const co = <usize>c << 2;
    const z = f32x4.splat(0);
    v128.store(p1 + co, z); v128.store(p1 + co, z, 16); v128.store(p1 + co, z, 32); v128.store(p1 + co, z, 48);
    v128.store(o0 + co, z); v128.store(o0 + co, z, 16); v128.store(o0 + co, z, 32); v128.store(o0 + co, z, 48);
  }
  for (let jb = 0; jb < n; jb += VBLOCK) {
    const je = min(jb + VBLOCK, n2);
    const tail = jb + VBLOCK >= n && n2 < n;
    for (let c = 0; c < d16; c += 16) {
      const co = <usize>c << 2;
      let a00 = v128.load(o0 + co), a01 = v128.load(o0 + co, 16), a02 = v128.load(o0 + co, 32), a03 = v128.load(o0 + co, 48);
      let a10 = v128.load(p1 + co), a11 = v128.load(p1 + co, 16), a12 = v128.load(p1 + co, 32), a13 = v128.load(p1 + co, 48);
      let vo = vb + <usize>jb * rs + co;
      for (let j = jb; j < je; j += 2, vo += rs << 1) {
        const pv = v128.load(s + (<usize>j << 3));
        let p0 = lane(pv, 0), q1 = lane(pv, 1);
        let v = v128.load(vo); a00 = f32x4.add(a00, f32x4.mul(p0, v)); a10 = f32x4.add(a10, f32x4.mul(q1, v));
        v = v128.load(vo, 16); a01 = f32x4.add(a01, f32x4.mul(p0, v)); a11 = f32x4.add(a11, f32x4.mul(q1, v));
        v = v128.load(vo, 32); a02 = f32x4.add(a02, f32x4.mul(p0, v)); a12 = f32x4.add(a12, f32x4.mul(q1, v));
        v = v128.load(vo, 48); a03 = f32x4.add(a03, f32x4.mul(p0, v)); a13 = f32x4.add(a13, f32x4.mul(q1, v));
        const vn = vo + rs;
        p0 = lane(pv, 2); q1 = lane(pv, 3);
        v = v128.load(vn); a00 = f32x4.add(a00, f32x4.mul(p0, v)); a10 = f32x4.add(a10, f32x4.mul(q1, v));
        v = v128.load(vn, 16); a01 = f32x4.add(a01, f32x4.mul(p0, v)); a11 = f32x4.add(a11, f32x4.mul(q1, v));
        v = v128.load(vn, 32); a02 = f32x4.add(a02, f32x4.mul(p0, v)); a12 = f32x4.add(a12, f32x4.mul(q1, v));
        v = v128.load(vn, 48); a03 = f32x4.add(a03, f32x4.mul(p0, v)); a13 = f32x4.add(a13, f32x4.mul(q1, v));
      }
      if (tail) {
        const pv = v128.load(s + (<usize>n2 << 3));
        const p0 = lane(pv, 0), q1 = lane(pv, 1);
        const vt = vb + <usize>n2 * rs + co;
        let v = v128.load(vt); a00 = f32x4.add(a00, f32x4.mul(p0, v)); a10 = f32x4.add(a10, f32x4.mul(q1, v));
        v = v128.load(vt, 16); a01 = f32x4.add(a01, f32x4.mul(p0, v)); a11 = f32x4.add(a11, f32x4.mul(q1, v));
        v = v128.load(vt, 32); a02 = f32x4.add(a02, f32x4.mul(p0, v)); a12 = f32x4.add(a12, f32x4.mul(q1, v));
        v = v128.load(vt, 48); a03 = f32x4.add(a03, f32x4.mul(p0, v)); a13 = f32x4.add(a13, f32x4.mul(q1, v));
      }
      v128.store(p1 + co, a10); v128.store(p1 + co, a11, 16); v128.store(p1 + co, a12, 32); v128.store(p1 + co, a13, 48);
      v128.store(o0 + co, a00); v128.store(o0 + co, a01, 16); v128.store(o0 + co, a02, 32); v128.store(o0 + co, a03, 48);
    }
  }
  for (let c = 0; c < d16; c += 16) {
    const co = <usize>c << 2;
    v128.store(o0 + co, f32x4.mul(v128.load(o0 + co), i0)); v128.store(o0 + co, f32x4.mul(v128.load(o0 + co, 16), i0), 16);
    v128.store(o0 + co, f32x4.mul(v128.load(o0 + co, 32), i0), 32); v128.store(o0 + co, f32x4.mul(v128.load(o0 + co, 48), i0), 48);
    if (nr > 1) {
      v128.store(o1 + co, f32x4.mul(v128.load(o1 + co), i1)); v128.store(o1 + co, f32x4.mul(v128.load(o1 + co, 16), i1), 16);
      v128.store(o1 + co, f32x4.mul(v128.load(o1 + co, 32), i1), 32); v128.store(o1 + co, f32x4.mul(v128.load(o1 + co, 48), i1), 48);
    }
  }
  const inv0 = f32x4.extract_lane(inv, 0), inv1 = f32x4.extract_lane(inv, 1);
  for (let c = d16; c < d; c++) {
    let acc0: f32 = 0, acc1: f32 = 0;
    let vo = vb + (<usize>c << 2);
    for (let j = 0; j < n; j++, vo += rs) {
      const x = load<f32>(vo);
      acc0 += load<f32>(s + (<usize>j << 3)) * x;
      acc1 += load<f32>(s + (<usize>j << 3), 4) * x;
    }
    const co = <usize>c << 2;
    store<f32>(o0 + co, acc0 * inv0);
    if (nr > 1) store<f32>(o1 + co, acc1 * inv1);
  }
}

/**
 * Work units are (KV head, block of 4 of its query rows); threads split the units. A block's rows are
 * (token i, head h of the group) pairs in order; a short last block repeats its last row (not stored).
 */
export function attention(
  out: usize, q: usize, k: usize, v: usize, m: i32, nHeads: i32, nKv: i32, d: i32, cap: i32, kvLen: i32,
  causal: i32, qOff: i32, scale: f32, scratch: usize, scratchStride: usize, tid: i32, nth: i32,
): void {
  const group = nHeads / nKv;
  const rows = m * group;
  const nb = (rows + 3) >> 2;
  const u0 = partStart(nKv * nb, tid, nth), u1 = partStart(nKv * nb, tid + 1, nth);
  const s = scratch + <usize>tid * scratchStride;
  const rs = <usize>d << 2;
  for (let u = u0; u < u1; u++) {
    const g = u / nb;
    const r0 = (u % nb) << 2;
    const nr = min(4, rows - r0);
    let qa0: usize = 0, qa1: usize = 0, qa2: usize = 0, qa3: usize = 0;
    let l0 = 0, l1 = 0, l2 = 0, l3 = 0;
    for (let t = 0; t < 4; t++) {
      const r = r0 + min(t, nr - 1);
      const i = r / group;
      const h = g * group + (r % group);
      const qa = <usize>(i * nHeads + h) * rs;
      const lim = causal ? max(0, min(kvLen, qOff + i + 1)) : kvLen;
      if (t == 0) { qa0 = qa; l0 = lim; } else if (t == 1) { qa1 = qa; l1 = lim; } else if (t == 2) { qa2 = qa; l2 = lim; } else { qa3 = qa; l3 = lim; }
    }
    const maxLim = max(max(l0, l1), max(l2, l3));
    const minLim = min(min(l0, l1), min(l2, l3));
    const kb = k + <usize>g * <usize>cap * rs, vb = v + <usize>g * <usize>cap * rs;
    if (nr <= 2) {
      scores2(s, q + qa0, q + qa1, kb, d, maxLim, scale);
      const sums = softmax2(s, l0, l1, maxLim);
      const inv = v128.and(f32x4.div(f32x4.splat(1), sums), f32x4.gt(sums, f32x4.splat(0)));
      weightedValues2(out + qa0, out + qa1, nr, s, vb, d, maxLim, inv);
      continue;
    }
    scores4(s, q + qa0, q + qa1, q + qa2, q + qa3, kb, d, maxLim, scale);
    const sums = softmax4(s, i32x4(l0, l1, l2, l3), minLim, maxLim);
    const inv = v128.and(f32x4.div(f32x4.splat(1), sums), f32x4.gt(sums, f32x4.splat(0)));
    weightedValues4(out + qa0, out + qa1, out + qa2, out + qa3, nr, s, vb, d, maxLim, inv);
  }
}
