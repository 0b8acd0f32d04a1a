// The "rows4" layout of 16-bit weight matrices w[n, k] (n % 4 == 0, k % 8 == 0): rows in groups of four, and in a
// group the k axis in blocks of eight, each block holding row 0's eight values, then row 1's, row 2's and row 3's
// (64 bytes, one cache line). A group occupies the same 8k bytes as its four rows do row-major, so a group's
// address is unchanged; what changes is that a decode GEMV, which takes four rows at a time, reads the group in
// address order through one pointer instead of four interleaved streams 2k bytes apart. Streaming needle-llama's
// 43 projections (17 MB of bf16) that way ran at 9.1 GB/s against 4.6 GB/s row-major on one thread of the
// development machine (its plain streaming read: 12.5 GB/s), and 1.5x faster even from cache (fewer address
// computations per load).
import { DT_BF16, DT_F32, f16Lanes, partStart } from './simd';

/** Flag or-ed into a 16-bit weight dtype code when the tensor is stored in the rows4 layout. */
export const DT_ROWS4: i32 = 4;

/** Element index of w[j, p] in the rows4 layout of a matrix with k columns. */
@inline export function rows4Index(j: i32, p: i32, k: i32): usize {
  return (<usize>(j >> 2) * <usize>k << 2) + (<usize>(p >> 3) << 5) + (<usize>(j & 3) << 3) + <usize>(p & 7);
}

/** w[j, p] of a weight tensor in dtype code `dt` (DT_F32, DT_F16 or DT_BF16, possibly | DT_ROWS4), widened to f32. */
@inline export function weightAtRC(w: usize, j: i32, p: i32, k: i32, dt: i32): f32 {
  const base = dt & 3;
  if (base == DT_F32) return load<f32>(w + ((<usize>j * <usize>k + <usize>p) << 2));
  const i = dt & DT_ROWS4 ? rows4Index(j, p, k) : <usize>j * <usize>k + <usize>p;
  const h = <u32>load<u16>(w + (i << 1));
  if (base == DT_BF16) return reinterpret<f32>(h << 16);
  return f32x4.extract_lane(f16Lanes(i32x4.splat(h)), 0);
}

/**
 * In place: the row-major 16-bit matrix w[n, k] (n % 4 == 0, k % 8 == 0) rearranged into the rows4 layout, one
 * group of four rows at a time through this thread's scratch (8k bytes); threads split the groups.
 */
export function interleaveRows4(w: usize, n: i32, k: i32, scratch: usize, scratchStride: usize, tid: i32, nth: i32): void {
  const groupBytes = <usize>k << 3;
  const rowBytes = <usize>k << 1;
  const blocks = k >> 3;
  const tmp = scratch + <usize>tid * scratchStride;
  const g1 = partStart(n >> 2, tid + 1, nth);
  for (let g = partStart(n >> 2, tid, nth); g < g1; g++) {
    const dst = w + <usize>g * groupBytes;
    memory.copy(tmp, dst, groupBytes);
    for (let b = 0; b < blocks; b++) {
      const s = tmp + (<usize>b << 4), d = dst + (<usize>b << 6);
      v128.store(d, v128.load(s));
      v128.store(d, v128.load(s + rowBytes), 16);
      v128.store(d, v128.load(s + 2 * rowBytes), 32);
      v128.store(d, v128.load(s + 3 * rowBytes), 48);
    }
  }
}
