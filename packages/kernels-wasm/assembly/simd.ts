// SIMD helpers shared by the kernels: horizontal sums, a vectorised exp, 16-bit float widening, thread ranges.

/** [sum(a), sum(b), sum(c), sum(d)]: four dot-product accumulators reduced into one vector. */
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

/** Sum of the four lanes. */
@inline export function hsum(a: v128): f32 {
  const t = f32x4.add(a, v128.shuffle<f32>(a, a, 2, 3, 0, 1));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1);
}

/** Max of the four lanes. */
@inline export function hmax(a: v128): f32 {
  const t = f32x4.max(a, v128.shuffle<f32>(a, a, 2, 3, 0, 1));
  return max(f32x4.extract_lane(t, 0), f32x4.extract_lane(t, 1));
}

/**
 * exp of four lanes (Cephes-style range reduction x = n ln2 + r, degree-6 polynomial in r): about 2 ulp for
 * |x| < 87, so f32 results stay within the conformance bound (1e-5 relative) of the reference's float64 exp.
 * Inputs below -87.3 (including -Infinity from masks) give exactly 0; inputs above 88.3 saturate near 2^127; NaN
 * gives 0. The clamps are pmin/pmax (one instruction each; f32x4.min/max's NaN rules cost several, and here
 * they give the same values: a NaN is zeroed by the final mask either way), and n = round(x log2 e) comes from
 * adding 1.5 * 2^23 (the sum rounds to an integer, ties to even, as f32x4.nearest; |x log2 e| < 128), whose low
 * bits are then n itself (no float-to-int conversion).
 */
@inline export function vexp(x0: v128): v128 {
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const magic = f32x4.splat(12582912.0);
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(1.44269504088896341)), magic);
  const fx = f32x4.sub(t, magic);
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(y, r), r), r), f32x4.splat(1.0));
  // t's bits are those of 1.5 * 2^23 (0x4b400000) plus n: n + 127 in the exponent field is their difference + 127.
  const pow2 = i32x4.shl(i32x4.sub(t, i32x4.splat(0x4b400000 - 127)), 23);
  const res = f32x4.mul(y, pow2);
  return v128.and(res, f32x4.gt(x0, f32x4.splat(-87.3)));
}

/** Scalar exp through the same polynomial, so tails of a row round like its vector body. */
@inline export function sexp(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

/** Low / high four bf16 of eight (raw bits in a v128) as f32: bf16 is the top half of an f32. */
@inline export function bf16Lo(v: v128): v128 {
  return i32x4.shl(i32x4.extend_low_i16x8_u(v), 16);
}
@inline export function bf16Hi(v: v128): v128 {
  return i32x4.shl(i32x4.extend_high_i16x8_u(v), 16);
}

/**
 * Four IEEE half bit patterns (as u32 lanes) to f32, exactly: the 15 magnitude bits shifted into an f32's
 * exponent/mantissa and scaled by 2^112 rebias the exponent (subnormal halves come out right too);
 * exponent 31 becomes Inf/NaN by forcing the f32 exponent to all ones.
 */
@inline export function f16Lanes(e: v128): v128 {
  const sign = i32x4.shl(v128.and(e, i32x4.splat(0x8000)), 16);
  const mag = i32x4.shl(v128.and(e, i32x4.splat(0x7fff)), 13);
  let f = f32x4.mul(mag, f32x4.splat(5.192296858534828e33));
  const infNan = i32x4.eq(v128.and(e, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
  f = v128.or(f, v128.and(infNan, i32x4.splat(0x7f800000)));
  return v128.or(f, sign);
}
@inline export function f16Lo(v: v128): v128 {
  return f16Lanes(i32x4.extend_low_i16x8_u(v));
}
@inline export function f16Hi(v: v128): v128 {
  return f16Lanes(i32x4.extend_high_i16x8_u(v));
}

/** Weight dtype codes shared with the host (wasm-backend.ts). */
export const DT_F32: i32 = 0;
export const DT_F16: i32 = 1;
export const DT_BF16: i32 = 2;

/** One stored weight element at element index i of a tensor of dtype `dt`, widened to f32. */
@inline export function weightAt(w: usize, i: usize, dt: i32): f32 {
  if (dt == DT_F32) return load<f32>(w + (i << 2));
  const h = <u32>load<u16>(w + (i << 1));
  if (dt == DT_BF16) return reinterpret<f32>(h << 16);
  return f32x4.extract_lane(f16Lanes(i32x4.splat(h)), 0);
}

/** Start of thread `tid`'s share of `total` work units (units [lo(tid), lo(tid+1)) belong to it). */
@inline export function partStart(total: i32, tid: i32, nth: i32): i32 {
  return <i32>((<i64>total * <i64>tid) / <i64>nth);
}
