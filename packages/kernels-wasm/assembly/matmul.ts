// out[m, n] = x[m, k] · w[n, k]ᵀ. GEMV (m < 4, decode) streams w once per row at memory speed, four w rows at
// a time with 16-bit weights widened in registers, with the fused epilogues of matmulAdd (+ residual) and
// matmulSwiglu (gate and up rows side by side, silu(g) * u stored); GEMM (prefill) packs k-blocks of w into
// 8-column panels (f32, transposed) and runs a 4x8 register-blocked outer-product micro-kernel over L2-sized
// blocks of x.
// Both split the output columns across threads; each thread writes only its own columns.
import { rmsNorm } from './elementwise';
import { DT_BF16, DT_F16, DT_F32, f16Hi, f16Lo, hsum4, partStart, sexp, vexp, weightAt } from './simd';
import { DT_ROWS4, weightAtRC } from './weight-layout';

/** f32 weights: dots of x[0..k) with four consecutive w rows starting at w0. */
@inline function dot4F32(x: usize, w0: usize, k: i32): v128 {
  const rs = <usize>k << 2;
  const w1 = w0 + rs, w2 = w1 + rs, w3 = w2 + rs;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  const k8 = k & ~7;
  let p = 0;
  for (; p < k8; p += 8) {
    const o = <usize>p << 2;
    const xa = v128.load(x + o), xb = v128.load(x + o, 16);
    a0 = f32x4.add(a0, f32x4.mul(xa, v128.load(w0 + o))); b0 = f32x4.add(b0, f32x4.mul(xb, v128.load(w0 + o, 16)));
    a1 = f32x4.add(a1, f32x4.mul(xa, v128.load(w1 + o))); b1 = f32x4.add(b1, f32x4.mul(xb, v128.load(w1 + o, 16)));
    a2 = f32x4.add(a2, f32x4.mul(xa, v128.load(w2 + o))); b2 = f32x4.add(b2, f32x4.mul(xb, v128.load(w2 + o, 16)));
    a3 = f32x4.add(a3, f32x4.mul(xa, v128.load(w3 + o))); b3 = f32x4.add(b3, f32x4.mul(xb, v128.load(w3 + o, 16)));
  }
  let r = hsum4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3));
  for (; p < k; p++) {
    const o = <usize>p << 2;
    const xv = load<f32>(x + o);
    r = f32x4.add(r, f32x4.mul(f32x4.splat(xv), f32x4(load<f32>(w0 + o), load<f32>(w1 + o), load<f32>(w2 + o), load<f32>(w3 + o))));
  }
  return r;
}

/**
 * bf16 weights: dots of x with four w rows, eight weights per load. A bf16 is the top half of an f32, so the
 * odd elements of eight loaded weights are already f32 once the low halves are masked off, and the even ones
 * after one 32-bit shift: two ops widen eight weights (unpacking to 16-bit lanes took four). `xp` holds x's
 * first k8 values permuted to match, per group of eight: [x0 x2 x4 x6 | x1 x3 x5 x7] (permuteEvenOdd).
 */
@inline function dot4Bf16(x: usize, xp: usize, w0: usize, k: i32): v128 {
  const rs = <usize>k << 1;
  const w1 = w0 + rs, w2 = w1 + rs, w3 = w2 + rs;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  const hi = i32x4.splat(0xffff0000);
  const k8 = k & ~7;
  let p = 0;
  for (; p < k8; p += 8) {
    const xo = <usize>p << 2, wo = <usize>p << 1;
    const xe = v128.load(xp + xo), xd = v128.load(xp + xo, 16);
    let v = v128.load(w0 + wo);
    a0 = f32x4.add(a0, f32x4.mul(xe, i32x4.shl(v, 16))); b0 = f32x4.add(b0, f32x4.mul(xd, v128.and(v, hi)));
    v = v128.load(w1 + wo);
    a1 = f32x4.add(a1, f32x4.mul(xe, i32x4.shl(v, 16))); b1 = f32x4.add(b1, f32x4.mul(xd, v128.and(v, hi)));
    v = v128.load(w2 + wo);
    a2 = f32x4.add(a2, f32x4.mul(xe, i32x4.shl(v, 16))); b2 = f32x4.add(b2, f32x4.mul(xd, v128.and(v, hi)));
    v = v128.load(w3 + wo);
    a3 = f32x4.add(a3, f32x4.mul(xe, i32x4.shl(v, 16))); b3 = f32x4.add(b3, f32x4.mul(xd, v128.and(v, hi)));
  }
  let r = hsum4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3));
  for (; p < k; p++) {
    const xv = load<f32>(x + (<usize>p << 2));
    const i = <usize>p;
    r = f32x4.add(r, f32x4.mul(f32x4.splat(xv), f32x4(weightAt(w0, i, DT_BF16), weightAt(w1, i, DT_BF16), weightAt(w2, i, DT_BF16), weightAt(w3, i, DT_BF16))));
  }
  return r;
}

/** f16 weights: dots of x with four w rows, eight weights per load widened exactly (f16Lanes). */
@inline function dot4F16(x: usize, w0: usize, k: i32): v128 {
  const rs = <usize>k << 1;
  const w1 = w0 + rs, w2 = w1 + rs, w3 = w2 + rs;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  const k8 = k & ~7;
  let p = 0;
  for (; p < k8; p += 8) {
    const xo = <usize>p << 2, wo = <usize>p << 1;
    const xa = v128.load(x + xo), xb = v128.load(x + xo, 16);
    let v = v128.load(w0 + wo);
    a0 = f32x4.add(a0, f32x4.mul(xa, f16Lo(v))); b0 = f32x4.add(b0, f32x4.mul(xb, f16Hi(v)));
    v = v128.load(w1 + wo);
    a1 = f32x4.add(a1, f32x4.mul(xa, f16Lo(v))); b1 = f32x4.add(b1, f32x4.mul(xb, f16Hi(v)));
    v = v128.load(w2 + wo);
    a2 = f32x4.add(a2, f32x4.mul(xa, f16Lo(v))); b2 = f32x4.add(b2, f32x4.mul(xb, f16Hi(v)));
    v = v128.load(w3 + wo);
    a3 = f32x4.add(a3, f32x4.mul(xa, f16Lo(v))); b3 = f32x4.add(b3, f32x4.mul(xb, f16Hi(v)));
  }
  let r = hsum4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3));
  for (; p < k; p++) {
    const xv = load<f32>(x + (<usize>p << 2));
    const i = <usize>p;
    r = f32x4.add(r, f32x4.mul(f32x4.splat(xv), f32x4(weightAt(w0, i, DT_F16), weightAt(w1, i, DT_F16), weightAt(w2, i, DT_F16), weightAt(w3, i, DT_F16))));
  }
  return r;
}

/**
 * bf16 weights in the rows4 layout (weight-layout.ts): dot4Bf16's arithmetic, in the same order (so the results are
 * bit-identical), over the group's 8k bytes read in address order: each k-block of eight is one 64-byte line holding
 * rows 0-3. k % 8 == 0 (the layout requires it), so there is no tail.
 */
@inline function dot4Bf16Rows4(xp: usize, g: usize, k: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  const hi = i32x4.splat(0xffff0000);
  let wp = g;
  for (let p = 0; p < k; p += 8, wp += 64) {
    const xo = <usize>p << 2;
    const xe = v128.load(xp + xo), xd = v128.load(xp + xo, 16);
    let v = v128.load(wp);
    a0 = f32x4.add(a0, f32x4.mul(xe, i32x4.shl(v, 16))); b0 = f32x4.add(b0, f32x4.mul(xd, v128.and(v, hi)));
    v = v128.load(wp, 16);
    a1 = f32x4.add(a1, f32x4.mul(xe, i32x4.shl(v, 16))); b1 = f32x4.add(b1, f32x4.mul(xd, v128.and(v, hi)));
    v = v128.load(wp, 32);
    a2 = f32x4.add(a2, f32x4.mul(xe, i32x4.shl(v, 16))); b2 = f32x4.add(b2, f32x4.mul(xd, v128.and(v, hi)));
    v = v128.load(wp, 48);
    a3 = f32x4.add(a3, f32x4.mul(xe, i32x4.shl(v, 16))); b3 = f32x4.add(b3, f32x4.mul(xd, v128.and(v, hi)));
  }
  return hsum4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3));
}

/** f16 weights in the rows4 layout: dot4F16's arithmetic and order over the group read in address order. */
@inline function dot4F16Rows4(x: usize, g: usize, k: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  let wp = g;
  for (let p = 0; p < k; p += 8, wp += 64) {
    const xo = <usize>p << 2;
    const xa = v128.load(x + xo), xb = v128.load(x + xo, 16);
    let v = v128.load(wp);
    a0 = f32x4.add(a0, f32x4.mul(xa, f16Lo(v))); b0 = f32x4.add(b0, f32x4.mul(xb, f16Hi(v)));
    v = v128.load(wp, 16);
    a1 = f32x4.add(a1, f32x4.mul(xa, f16Lo(v))); b1 = f32x4.add(b1, f32x4.mul(xb, f16Hi(v)));
    v = v128.load(wp, 32);
    a2 = f32x4.add(a2, f32x4.mul(xa, f16Lo(v))); b2 = f32x4.add(b2, f32x4.mul(xb, f16Hi(v)));
    v = v128.load(wp, 48);
    a3 = f32x4.add(a3, f32x4.mul(xa, f16Lo(v))); b3 = f32x4.add(b3, f32x4.mul(xb, f16Hi(v)));
  }
  return hsum4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3));
}

/** Dots of x (xp: its permuted copy, bf16 only) with w rows j..j+3 of any weight dtype code (rows4 included). */
@inline function dot4(x: usize, xp: usize, w: usize, dt: i32, j: i32, k: i32): v128 {
  if (dt == DT_F32) return dot4F32(x, w + ((<usize>j * <usize>k) << 2), k);
  // A group of four rows starts at the same address in both 16-bit layouts.
  const g = w + ((<usize>j * <usize>k) << 1);
  if (dt == (DT_BF16 | DT_ROWS4)) return dot4Bf16Rows4(xp, g, k);
  if (dt == (DT_F16 | DT_ROWS4)) return dot4F16Rows4(x, g, k);
  if (dt == DT_BF16) return dot4Bf16(x, xp, g, k);
  return dot4F16(x, g, k);
}

/** One output element: x · w row j (any dtype code), for column tails (never reached in rows4: n % 4 == 0 there). */
function dot1(x: usize, w: usize, dt: i32, j: i32, k: i32): f32 {
  let s: f32 = 0;
  for (let p = 0; p < k; p++) s += load<f32>(x + (<usize>p << 2)) * weightAtRC(w, j, p, k, dt);
  return s;
}

/** xp[8g .. 8g+8) = [x0 x2 x4 x6 | x1 x3 x5 x7] of group g, for the first k & ~7 values of x (dot4Bf16's order). */
function permuteEvenOdd(xp: usize, x: usize, k: i32): void {
  const k8 = k & ~7;
  for (let p = 0; p < k8; p += 8) {
    const o = <usize>p << 2;
    const a = v128.load(x + o), b = v128.load(x + o, 16);
    v128.store(xp + o, v128.shuffle<f32>(a, b, 0, 2, 4, 6));
    v128.store(xp + o, v128.shuffle<f32>(a, b, 1, 3, 5, 7), 16);
  }
}

/** Scratch bytes a GEMV needs per thread: one permuted row of x, and the RMS-normalised row when fused. */
export function gemvScratchBytes(k: i32): i32 {
  return k << 3;
}

// What a GEMV does with the dots of a column group before storing them.
const EPI_NONE: i32 = 0; // out = x · wᵀ
const EPI_ADD: i32 = 1; // out = aux + x · wᵀ (aux [m, n]: the residual)
const EPI_SWIGLU: i32 = 2; // out = silu(x · wᵀ) * (x · auxᵀ) (aux [n, k]: the up projection's weights)

/** silu(g) * u for four lanes, the formula of the swiglu kernel (g / (1 + exp(-g)) * u). */
@inline function swiglu4(g: v128, u: v128): v128 {
  return f32x4.mul(f32x4.div(g, f32x4.add(f32x4.splat(1), vexp(f32x4.neg(g)))), u);
}

/**
 * GEMV rows with an epilogue: for each of the m rows of x, the dots with every w row, then EPI_*. Threads split
 * the columns in groups of 4. Each thread prepares x in its own scratch (k floats): permuted for the bf16 kernel,
 * and, when `norm` is an address, first RMS-normalised with those weights by the rmsNorm kernel itself (the
 * layer's input norm fused in: the same values as rmsNorm then matmul, without the extra op and pass).
 */
@inline function gemvEpi(epi: i32, out: usize, x: usize, w: usize, aux: usize, dt: i32, m: i32, n: i32, k: i32, norm: usize, eps: f32, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  const np = (n + 3) >> 2;
  const p0 = partStart(np, tid, nth), p1 = partStart(np, tid + 1, nth);
  if (p0 >= p1) return;
  const xp = scratch + <usize>tid * scratchStride;
  for (let i = 0; i < m; i++) {
    let xr = x + ((<usize>i * <usize>k) << 2);
    const orow = out + ((<usize>i * <usize>n) << 2);
    if (norm) {
      // The normalised row in natural order after the permuted copy: the column tails (dot1) and dot4Bf16's
      // k & 7 tail read it there.
      const xn = xp + (<usize>k << 2);
      rmsNorm(xn, xr, norm, 1, k, eps, 0, 1);
      xr = xn;
    }
    if ((dt & 3) == DT_BF16) permuteEvenOdd(xp, xr, k);
    for (let p = p0; p < p1; p++) {
      const j = p << 2;
      const o = orow + (<usize>j << 2);
      if (j + 4 <= n) {
        const r = dot4(xr, xp, w, dt, j, k);
        if (epi == EPI_NONE) v128.store(o, r);
        else if (epi == EPI_ADD) v128.store(o, f32x4.add(v128.load(aux + (o - out)), r));
        else v128.store(o, swiglu4(r, dot4(xr, xp, aux, dt, j, k)));
      } else {
        // Column tails: one dot at a time over the natural-order row (normalised when norm is set).
        for (let jj = j; jj < n; jj++) {
          const oj = orow + (<usize>jj << 2);
          const r = dot1(xr, w, dt, jj, k);
          if (epi == EPI_NONE) store<f32>(oj, r);
          else if (epi == EPI_ADD) store<f32>(oj, load<f32>(aux + (oj - out)) + r);
          else {
            const u = dot1(xr, aux, dt, jj, k);
            store<f32>(oj, (r / (1 + sexp(-r))) * u);
          }
        }
      }
    }
  }
}

/**
 * out[m, n] = x[m, k] · w[n, k]ᵀ for decode-sized m (each w row streamed once per x row); with `norm` (an
 * address, else 0) x's rows are RMS-normalised with those weights and eps first.
 */
export function gemv(out: usize, x: usize, w: usize, dt: i32, m: i32, n: i32, k: i32, norm: usize, eps: f32, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  gemvEpi(EPI_NONE, out, x, w, 0, dt, m, n, k, norm, eps, scratch, scratchStride, tid, nth);
}

/** out[m, n] = res[m, n] + x[m, k] · w[n, k]ᵀ: a projection and its residual add in one pass. */
export function gemvAdd(out: usize, x: usize, w: usize, res: usize, dt: i32, m: i32, n: i32, k: i32, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  gemvEpi(EPI_ADD, out, x, w, res, dt, m, n, k, 0, 0, scratch, scratchStride, tid, nth);
}

/**
 * out[m, n] = silu(x · wGateᵀ) * (x · wUpᵀ): the MLP's gate and up projections and SwiGLU in one pass; with
 * `norm` (an address, else 0) x's rows are RMS-normalised first, as in gemv.
 */
export function gemvSwiglu(out: usize, x: usize, wGate: usize, wUp: usize, dt: i32, m: i32, n: i32, k: i32, norm: usize, eps: f32, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  gemvEpi(EPI_SWIGLU, out, x, wGate, wUp, dt, m, n, k, norm, eps, scratch, scratchStride, tid, nth);
}

const KC: i32 = 256; // k-block: a packed 8-column panel is 8 KiB, in L1
const MC: i32 = 64; // rows of x per block: 64 x 1 KiB segments, in L2
const NG: i32 = 128; // panels packed per group (1024 columns, 1 MiB of scratch per thread)

/** Scratch bytes GEMM needs per thread (packed panels plus a 32-byte tail buffer). */
export function gemmScratchBytes(): i32 {
  return NG * 8 * KC * 4 + 32;
}

/** Packs w rows j..j+nr (zeros past nr), columns pc..pc+kc, transposed: wp[p*8 + c] = w[j + c, pc + p] as f32. */
function packPanel(wp: usize, w: usize, dt: i32, j: i32, nr: i32, pc: i32, kc: i32, k: i32): void {
  for (let c = 0; c < 8; c++) {
    if (c < nr) {
      const row = <usize>(j + c) * <usize>k + <usize>pc;
      if (dt == DT_F32) {
        const src = w + (row << 2);
        for (let p = 0; p < kc; p++) store<f32>(wp + ((<usize>(p * 8 + c)) << 2), load<f32>(src + (<usize>p << 2)));
      } else if (dt & DT_ROWS4) {
        for (let p = 0; p < kc; p++) store<f32>(wp + ((<usize>(p * 8 + c)) << 2), weightAtRC(w, j + c, pc + p, k, dt));
      } else {
        for (let p = 0; p < kc; p++) store<f32>(wp + ((<usize>(p * 8 + c)) << 2), weightAt(w, row + <usize>p, dt));
      }
    } else {
      for (let p = 0; p < kc; p++) store<f32>(wp + ((<usize>(p * 8 + c)) << 2), 0);
    }
  }
}

/** Adds a row's 8 accumulated columns into out (only the first nr are real). */
@inline function addRow8(o: usize, lo: v128, hi: v128, nr: i32, tmp: usize): void {
  if (nr == 8) {
    v128.store(o, f32x4.add(v128.load(o), lo));
    v128.store(o, f32x4.add(v128.load(o, 16), hi), 16);
  } else {
    v128.store(tmp, lo);
    v128.store(tmp, hi, 16);
    for (let c = 0; c < nr; c++) {
      const a = o + (<usize>c << 2);
      store<f32>(a, load<f32>(a) + load<f32>(tmp + (<usize>c << 2)));
    }
  }
}

/** out[4 rows, 8 cols] += x[4 rows, kc] · panel: x values broadcast, panel rows loaded as two vectors. */
function micro4x8(o: usize, xr: usize, wp: usize, kc: i32, xs: usize, os: usize, nr: i32, tmp: usize): void {
  let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
  let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
  const x1 = xr + xs, x2 = x1 + xs, x3 = x2 + xs;
  for (let p = 0; p < kc; p++) {
    const po = <usize>p << 2;
    const wa = v128.load(wp + (po << 3)), wb = v128.load(wp + (po << 3), 16);
    let xv = v128.load32_splat(xr + po);
    a0 = f32x4.add(a0, f32x4.mul(xv, wa)); b0 = f32x4.add(b0, f32x4.mul(xv, wb));
    xv = v128.load32_splat(x1 + po);
    a1 = f32x4.add(a1, f32x4.mul(xv, wa)); b1 = f32x4.add(b1, f32x4.mul(xv, wb));
    xv = v128.load32_splat(x2 + po);
    a2 = f32x4.add(a2, f32x4.mul(xv, wa)); b2 = f32x4.add(b2, f32x4.mul(xv, wb));
    xv = v128.load32_splat(x3 + po);
    a3 = f32x4.add(a3, f32x4.mul(xv, wa)); b3 = f32x4.add(b3, f32x4.mul(xv, wb));
  }
  addRow8(o, a0, b0, nr, tmp);
  addRow8(o + os, a1, b1, nr, tmp);
  addRow8(o + 2 * os, a2, b2, nr, tmp);
  addRow8(o + 3 * os, a3, b3, nr, tmp);
}

/** out[1 row, 8 cols] += x[1 row, kc] · panel (the rows left over after blocks of 4). */
function micro1x8(o: usize, xr: usize, wp: usize, kc: i32, nr: i32, tmp: usize): void {
  let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const po = <usize>p << 2;
    const xv = v128.load32_splat(xr + po);
    a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(wp + (po << 3))));
    b0 = f32x4.add(b0, f32x4.mul(xv, v128.load(wp + (po << 3), 16)));
  }
  addRow8(o, a0, b0, nr, tmp);
}

/**
 * Blocked GEMM; threads split the 8-column panels. Loop nest: k-blocks of KC → groups of NG panels packed once
 * → MC-row blocks of x → panels → 4-row micro-tiles. scratch + tid * scratchStride holds this thread's packed
 * panels (gemmScratchBytes()). `init` 0: out = x · wᵀ; otherwise out = init + x · wᵀ (init [m, n], the residual of
 * matmulAdd: it seeds the accumulation instead of zeros).
 */
export function gemm(out: usize, x: usize, w: usize, dt: i32, m: i32, n: i32, k: i32, init: usize, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  const np = (n + 7) >> 3;
  const p0 = partStart(np, tid, nth), p1 = partStart(np, tid + 1, nth);
  if (p0 >= p1) return;
  const packs = scratch + <usize>tid * scratchStride;
  const tmp = packs + <usize>(NG * 8 * KC * 4);
  const c0 = p0 << 3, c1 = min(p1 << 3, n);
  const os = <usize>n << 2, xs = <usize>k << 2;
  for (let i = 0; i < m; i++) {
    const o = <usize>i * os + (<usize>c0 << 2);
    if (init) memory.copy(out + o, init + o, <usize>(c1 - c0) << 2);
    else memory.fill(out + o, 0, <usize>(c1 - c0) << 2);
  }
  for (let pc = 0; pc < k; pc += KC) {
    const kc = min(KC, k - pc);
    const panelBytes = <usize>kc * 32;
    for (let g0 = p0; g0 < p1; g0 += NG) {
      const g1 = min(g0 + NG, p1);
      for (let p = g0; p < g1; p++) {
        const j = p << 3;
        packPanel(packs + <usize>(p - g0) * panelBytes, w, dt, j, min(8, n - j), pc, kc, k);
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        for (let p = g0; p < g1; p++) {
          const j = p << 3;
          const nr = min(8, n - j);
          const wp = packs + <usize>(p - g0) * panelBytes;
          let i = 0;
          for (; i + 4 <= mc; i += 4) {
            const r = <usize>(ic + i);
            micro4x8(out + r * os + (<usize>j << 2), x + r * xs + (<usize>pc << 2), wp, kc, xs, os, nr, tmp);
          }
          for (; i < mc; i++) {
            const r = <usize>(ic + i);
            micro1x8(out + r * os + (<usize>j << 2), x + r * xs + (<usize>pc << 2), wp, kc, nr, tmp);
          }
        }
      }
    }
  }
}
