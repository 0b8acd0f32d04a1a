// Top-k selection in O(n): quickselect finds the k-th largest value, then one ascending pass collects the
// indices (values above it, then ties in ascending index order), so the output is already sorted by index.

/** Writes the indices of the k largest of x[base..base+n) into out[o..o+k), ascending; ties go to lower indices. */
export function topKRow(x: Float32Array, base: number, n: number, k: number, out: Int32Array, o: number, scratch: Float32Array): void {
  if (k === 0) return;
  if (k === n) {
    for (let i = 0; i < n; i++) out[o + i] = i;
    return;
  }
  scratch.set(x.subarray(base, base + n));
  const thr = kthLargest(scratch, n, k);
  let greater = 0;
  for (let i = 0; i < n; i++) if (x[base + i] > thr) greater++;
  let ties = k - greater;
  let w = o;
  for (let i = 0; i < n; i++) {
    const v = x[base + i];
    if (v > thr || (v === thr && ties-- > 0)) out[w++] = i;
  }
}

/** The k-th largest value of a[0..n) (1-based k); reorders a. */
function kthLargest(a: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1; // position in descending order
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // median of three as pivot keeps sorted and reversed inputs linear
    const x = a[lo], y = a[mid], z = a[hi];
    const pivot = x > y ? (y > z ? y : x > z ? z : x) : x > z ? x : y > z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}
