// Row and elementwise ops: add, swiglu, rmsNorm, softmax, rope, embedding and 16-bit widening. Elementwise ops
// split the elements across threads in 4-aligned ranges; row ops split the rows.
import { bf16Hi, bf16Lo, DT_BF16, DT_F32, f16Hi, f16Lo, hmax, hsum, partStart, sexp, vexp, weightAt } from './simd';
import { DT_ROWS4, rows4Index } from './weight-layout';

/** Thread tid's 4-aligned share [lo, hi) of n elements, as two i32 packed in an i64 (lo in the low half). */
@inline function elemRange(n: i32, tid: i32, nth: i32): i64 {
  const q = (n + 3) >> 2;
  const lo = partStart(q, tid, nth) << 2;
  const hi = min(partStart(q, tid + 1, nth) << 2, n);
  return (<i64>hi << 32) | <i64>(<u32>lo);
}

export function add(out: usize, a: usize, b: usize, n: i32, tid: i32, nth: i32): void {
  const r = elemRange(n, tid, nth);
  const lo = <i32>r, hi = <i32>(r >> 32);
  let i = lo;
  for (; i + 4 <= hi; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < hi; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** out = silu(gate) * up = gate / (1 + exp(-gate)) * up. */
export function swiglu(out: usize, gate: usize, up: usize, n: i32, tid: i32, nth: i32): void {
  const r = elemRange(n, tid, nth);
  const lo = <i32>r, hi = <i32>(r >> 32);
  const one = f32x4.splat(1);
  let i = lo;
  for (; i + 4 <= hi; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gate + o);
    const e = vexp(f32x4.neg(g));
    v128.store(out + o, f32x4.mul(f32x4.div(g, f32x4.add(one, e)), v128.load(up + o)));
  }
  for (; i < hi; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    store<f32>(out + o, (g / (1 + sexp(-g))) * load<f32>(up + o));
  }
}

/** out[i, :] = x[i, :] / rms(x[i, :]) * w. */
export function rmsNorm(out: usize, x: usize, w: usize, m: i32, d: i32, eps: f32, tid: i32, nth: i32): void {
  const i0 = partStart(m, tid, nth), i1 = partStart(m, tid + 1, nth);
  const d4 = d & ~3;
  for (let i = i0; i < i1; i++) {
    const xr = x + ((<usize>i * <usize>d) << 2), orow = out + ((<usize>i * <usize>d) << 2);
    let acc = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const v = v128.load(xr + (<usize>c << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let ss = hsum(acc);
    for (let c = d4; c < d; c++) { const v = load<f32>(xr + (<usize>c << 2)); ss += v * v; }
    const r = <f32>(1 / Math.sqrt(<f64>ss / <f64>d + <f64>eps));
    const rv = f32x4.splat(r);
    for (let c = 0; c < d4; c += 4) {
      const o = <usize>c << 2;
      v128.store(orow + o, f32x4.mul(f32x4.mul(v128.load(xr + o), rv), v128.load(w + o)));
    }
    for (let c = d4; c < d; c++) {
      const o = <usize>c << 2;
      store<f32>(orow + o, load<f32>(xr + o) * r * load<f32>(w + o));
    }
  }
}

/** In place over out (which may alias x): softmax of each row of n. */
export function softmaxRows(out: usize, x: usize, rows: i32, n: i32, tid: i32, nth: i32): void {
  const r0 = partStart(rows, tid, nth), r1 = partStart(rows, tid + 1, nth);
  for (let r = r0; r < r1; r++) softmaxRow(out + ((<usize>r * <usize>n) << 2), x + ((<usize>r * <usize>n) << 2), n);
}

/** o[0..n) = softmax(x[0..n)); o may alias x. */
export function softmaxRow(o: usize, x: usize, n: i32): void {
  const n4 = n & ~3;
  let mv = f32x4.splat(-Infinity);
  for (let c = 0; c < n4; c += 4) mv = f32x4.max(mv, v128.load(x + (<usize>c << 2)));
  let mx = hmax(mv);
  for (let c = n4; c < n; c++) mx = max(mx, load<f32>(x + (<usize>c << 2)));
  const ms = f32x4.splat(mx);
  let sv = f32x4.splat(0);
  for (let c = 0; c < n4; c += 4) {
    const a = <usize>c << 2;
    const e = vexp(f32x4.sub(v128.load(x + a), ms));
    v128.store(o + a, e);
    sv = f32x4.add(sv, e);
  }
  let sum = hsum(sv);
  for (let c = n4; c < n; c++) {
    const a = <usize>c << 2;
    const e = sexp(load<f32>(x + a) - mx);
    store<f32>(o + a, e);
    sum += e;
  }
  const inv = <f32>(1 / <f64>sum);
  const iv = f32x4.splat(inv);
  for (let c = 0; c < n4; c += 4) { const a = <usize>c << 2; v128.store(o + a, f32x4.mul(v128.load(o + a), iv)); }
  for (let c = n4; c < n; c++) { const a = <usize>c << 2; store<f32>(o + a, load<f32>(o + a) * inv); }
}

/**
 * Rotates one head vector in place (rotate-half: pairs (e, e + half)) with cos/sin rows of a table
 * [positions, half] (attention scaling already folded in).
 */
@inline export function ropeRow(o: usize, cs: usize, sn: usize, half: i32): void {
  const hb = <usize>half << 2;
  let e = 0;
  for (; e + 4 <= half; e += 4) {
    const a = <usize>e << 2;
    const x1 = v128.load(o + a), x2 = v128.load(o + hb + a);
    const c = v128.load(cs + a), s = v128.load(sn + a);
    v128.store(o + a, f32x4.sub(f32x4.mul(x1, c), f32x4.mul(x2, s)));
    v128.store(o + hb + a, f32x4.add(f32x4.mul(x2, c), f32x4.mul(x1, s)));
  }
  for (; e < half; e++) {
    const a = <usize>e << 2;
    const x1 = load<f32>(o + a), x2 = load<f32>(o + hb + a);
    const c = load<f32>(cs + a), s = load<f32>(sn + a);
    store<f32>(o + a, x1 * c - x2 * s);
    store<f32>(o + hb + a, x2 * c + x1 * s);
  }
}

/** out = rope(x): row i (nHeads heads of 2*half) at table row pos[i] - tableBase, or row i when rowTable != 0. */
export function rope(out: usize, x: usize, pos: usize, m: i32, nHeads: i32, half: i32, cosT: usize, sinT: usize, tableBase: i32, rowTable: i32, tid: i32, nth: i32): void {
  const i0 = partStart(m, tid, nth), i1 = partStart(m, tid + 1, nth);
  const w = nHeads * half * 2;
  for (let i = i0; i < i1; i++) {
    const ro = (<usize>i * <usize>w) << 2;
    memory.copy(out + ro, x + ro, <usize>w << 2);
    const t = <usize>(rowTable ? i : load<i32>(pos + (<usize>i << 2)) - tableBase) * <usize>half << 2;
    for (let h = 0; h < nHeads; h++) ropeRow(out + ro + ((<usize>(h * half * 2)) << 2), cosT + t, sinT + t, half);
  }
}

/** out[i, :] = table[ids[i], :] widened to f32 (ids already checked on the host); the table in any weight dtype code. */
export function embedding(out: usize, table: usize, dt: i32, ids: usize, m: i32, hidden: i32, tid: i32, nth: i32): void {
  const i0 = partStart(m, tid, nth), i1 = partStart(m, tid + 1, nth);
  for (let i = i0; i < i1; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    const o = out + ((<usize>i * <usize>hidden) << 2);
    if (dt & DT_ROWS4) widenRows4(o, table, dt & 3, id, hidden);
    else widen(o, table, dt, <usize>id * <usize>hidden, hidden);
  }
}

/** o[0..8) = the eight 16-bit floats (dtype dt: DT_BF16 or DT_F16) of v, as f32. */
@inline function widen8(o: usize, v: v128, dt: i32): void {
  if (dt == DT_BF16) { v128.store(o, bf16Lo(v)); v128.store(o, bf16Hi(v), 16); }
  else { v128.store(o, f16Lo(v)); v128.store(o, f16Hi(v), 16); }
}

/** out[0..k) = row j of a 16-bit matrix [n, k] in the rows4 layout (weight-layout.ts), as f32: eight values per line. */
function widenRows4(out: usize, w: usize, dt: i32, j: i32, k: i32): void {
  const row = w + (rows4Index(j, 0, k) << 1);
  for (let p = 0; p < k; p += 8) {
    widen8(out + (<usize>p << 2), v128.load(row + (<usize>p << 3)), dt);
  }
}

/** out[0..n) = elements from..from+n of a tensor of dtype dt, as f32. */
export function widen(out: usize, src: usize, dt: i32, from: usize, n: i32): void {
  if (dt == DT_F32) {
    memory.copy(out, src + (from << 2), <usize>n << 2);
    return;
  }
  const s = src + (from << 1);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    widen8(out + (<usize>i << 2), v128.load(s + (<usize>i << 1)), dt);
  }
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), weightAt(s, <usize>i, dt));
}
