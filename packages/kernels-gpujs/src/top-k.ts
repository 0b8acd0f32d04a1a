// Top-k over rows with the CPU rule (larger value first, ties to the lower index, result in ascending index
// order), in one of two ways: for short rows, ranks by counting (O(n²) per row, two kernels); for long rows
// (KCache's top-N over 128K tokens), a bitonic sort of indices (O(n log² n), log² n kernel calls) followed
// by a bitonic sort of the k winners by index.
import type { GpujsData } from './gpujs-tensor.js';
import type { DataArg, KernelRunner } from './kernel-runner.js';

/** Rows up to this length use the counting method; longer rows sort. */
export const TOPK_COUNTING_MAX_N = 1024;

function release(d: GpujsData): void {
  if (!(d instanceof Float32Array)) d.delete();
}

function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, 2)));
}

/** Bitonic sort of every row of keys [rows, rowLen]; consumes `keys` and returns the sorted rows. */
function bitonicSort(runner: KernelRunner, keys: GpujsData, x: DataArg, rows: number, n: number, rowLen: number, byValue: boolean): GpujsData {
  let cur = keys;
  const len = rows * rowLen;
  for (let size = 2; size <= rowLen; size *= 2) {
    for (let stride = size / 2; stride >= 1; stride /= 2) {
      const next = runner.run('topkBitonicStep', len, {}, [{ data: cur, length: len }, x, n, rowLen, size, stride, byValue ? 1 : 0]);
      release(cur);
      cur = next;
    }
  }
  return cur;
}

/** x [rows, n] → i32 indices [rows, k] (as floats), ascending. */
export function topKIndices(runner: KernelRunner, x: DataArg, rows: number, n: number, k: number, countingMaxN = TOPK_COUNTING_MAX_N): GpujsData {
  if (n <= countingMaxN) {
    const ranks = runner.run('topkRanks', rows * n, { nMax: n }, [x, n]);
    const out = runner.run('topkCompact', rows * k, { nMax: n }, [{ data: ranks, length: rows * n }, n, k]);
    release(ranks);
    return out;
  }
  const rowLen = nextPow2(n);
  const iota = runner.run('topkIota', rows * rowLen, {}, [rowLen]);
  const byValue = bitonicSort(runner, iota, x, rows, n, rowLen, true);
  // The k winners, padded with sentinels (indices >= n sort last), then ordered by index.
  const kLen = nextPow2(k);
  const winners = runner.run('topkSlice', rows * kLen, {}, [{ data: byValue, length: rows * rowLen }, rowLen, kLen, k, n]);
  release(byValue);
  const byIndex = bitonicSort(runner, winners, x, rows, n, kLen, false);
  const out = runner.run('topkSlice', rows * k, {}, [{ data: byIndex, length: rows * kLen }, kLen, k, k, n]);
  release(byIndex);
  return out;
}
