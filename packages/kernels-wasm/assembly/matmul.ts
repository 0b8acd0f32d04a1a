// out[m, n] = x[m, k] · w[n, k]ᵀ. GEMV (m < 4, decode) streams w once per row at memory speed, four w rows at
// a time with 16-bit weights widened in registers; GEMM (prefill) packs k-blocks of w into 8-column panels
// (f32, transposed) and runs a 4x8 register-blocked outer-product micro-kernel over L2-sized blocks of x.
// Both split the output columns across threads; each thread writes only its own columns.
import { bf16Hi, bf16Lo, DT_BF16, DT_F32, f16Hi, f16Lo, hsum4, partStart, weightAt } from './simd';

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

/** 16-bit weights (f16, or bf16 when BF): dots of x with four w rows, eight weights per load. */
@inline function dot4Half<BF>(x: usize, w0: usize, k: i32, dt: i32): v128 {
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
    if (isSigned<BF>()) { a0 = f32x4.add(a0, f32x4.mul(xa, bf16Lo(v))); b0 = f32x4.add(b0, f32x4.mul(xb, bf16Hi(v))); }
    else { a0 = f32x4.add(a0, f32x4.mul(xa, f16Lo(v))); b0 = f32x4.add(b0, f32x4.mul(xb, f16Hi(v))); }
    v = v128.load(w1 + wo);
    if (isSigned<BF>()) { a1 = f32x4.add(a1, f32x4.mul(xa, bf16Lo(v))); b1 = f32x4.add(b1, f32x4.mul(xb, bf16Hi(v))); }
    else { a1 = f32x4.add(a1, f32x4.mul(xa, f16Lo(v))); b1 = f32x4.add(b1, f32x4.mul(xb, f16Hi(v))); }
    v = v128.load(w2 + wo);
    if (isSigned<BF>()) { a2 = f32x4.add(a2, f32x4.mul(xa, bf16Lo(v))); b2 = f32x4.add(b2, f32x4.mul(xb, bf16Hi(v))); }
    else { a2 = f32x4.add(a2, f32x4.mul(xa, f16Lo(v))); b2 = f32x4.add(b2, f32x4.mul(xb, f16Hi(v))); }
    v = v128.load(w3 + wo);
    if (isSigned<BF>()) { a3 = f32x4.add(a3, f32x4.mul(xa, bf16Lo(v))); b3 = f32x4.add(b3, f32x4.mul(xb, bf16Hi(v))); }
    else { a3 = f32x4.add(a3, f32x4.mul(xa, f16Lo(v))); b3 = f32x4.add(b3, f32x4.mul(xb, f16Hi(v))); }
  }
  let r = hsum4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3));
  for (; p < k; p++) {
    const xv = load<f32>(x + (<usize>p << 2));
    const i = <usize>p;
    r = f32x4.add(r, f32x4.mul(f32x4.splat(xv), f32x4(weightAt(w0, i, dt), weightAt(w1, i, dt), weightAt(w2, i, dt), weightAt(w3, i, dt))));
  }
  return r;
}

/** One output element: x · w row j (any dtype), for column tails. */
function dot1(x: usize, w: usize, dt: i32, j: i32, k: i32): f32 {
  let s: f32 = 0;
  const base = <usize>j * <usize>k;
  for (let p = 0; p < k; p++) s += load<f32>(x + (<usize>p << 2)) * weightAt(w, base + <usize>p, dt);
  return s;
}

/** GEMV rows: for each of the m rows of x, out row = x row · wᵀ; threads split the columns in groups of 4. */
export function gemv(out: usize, x: usize, w: usize, dt: i32, m: i32, n: i32, k: i32, tid: i32, nth: i32): void {
  const np = (n + 3) >> 2;
  const p0 = partStart(np, tid, nth), p1 = partStart(np, tid + 1, nth);
  const esz: usize = dt == DT_F32 ? 4 : 2;
  for (let i = 0; i < m; i++) {
    const xr = x + ((<usize>i * <usize>k) << 2);
    const orow = out + ((<usize>i * <usize>n) << 2);
    for (let p = p0; p < p1; p++) {
      const j = p << 2;
      if (j + 4 <= n) {
        const w0 = w + <usize>j * <usize>k * esz;
        let r: v128;
        if (dt == DT_F32) r = dot4F32(xr, w0, k);
        else if (dt == DT_BF16) r = dot4Half<i8>(xr, w0, k, dt);
        else r = dot4Half<u8>(xr, w0, k, dt);
        v128.store(orow + (<usize>j << 2), r);
      } else {
        for (let jj = j; jj < n; jj++) store<f32>(orow + (<usize>jj << 2), dot1(xr, w, dt, jj, k));
      }
    }
  }
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
 * panels (gemmScratchBytes()).
 */
export function gemm(out: usize, x: usize, w: usize, dt: i32, m: i32, n: i32, k: i32, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  const np = (n + 7) >> 3;
  const p0 = partStart(np, tid, nth), p1 = partStart(np, tid + 1, nth);
  if (p0 >= p1) return;
  const packs = scratch + <usize>tid * scratchStride;
  const tmp = packs + <usize>(NG * 8 * KC * 4);
  const c0 = p0 << 3, c1 = min(p1 << 3, n);
  const os = <usize>n << 2, xs = <usize>k << 2;
  for (let i = 0; i < m; i++) memory.fill(out + <usize>i * os + (<usize>c0 << 2), 0, <usize>(c1 - c0) << 2);
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
