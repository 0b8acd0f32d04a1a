// Which of ShadowKV's decode key slots need their keys rebuilt this step. The chunk cache keeps a chunk that stays
// selected in the slot it had (its hits), and Kd's budget rows still hold the keys written there last step; a
// chunk's keys never change once its rows of A exist (B is fixed, a fold only appends rows to A), so a slot whose
// chunk is the one it held last step needs no rebuild. Only the others (the misses) are rebuilt and scattered to
// their slots: at needle-llama's 4K the cache hits ~60% of chunks, so the rebuild (2^20 multiply-adds per layer at
// B=256 r=32) shrinks by that much.

export interface KeyRebuildPlan {
  /** i32 [nKvHeads, n]: chunk ids to rebuild (rebuildKeys' idx). */
  chunks: Int32Array;
  /** i32 [nKvHeads, n]: the slot each rebuilt chunk goes to (scatterChunks' idx, in chunks of chunkSize rows). */
  slots: Int32Array;
  /** Rebuilds per head (the same for every head: see keyRebuildPlan). */
  n: number;
}

/**
 * The rebuilds that bring Kd's budget slots to `slots` (i32 [nKvHeads, nSelect], the chunk in each slot now) from
 * `previous` (last step's, or undefined when Kd holds nothing reusable). Returns null when every slot already holds
 * its chunk's keys, and `'all'` when no slot does. Heads may differ in how many slots changed; rebuildKeys takes the
 * same count per head, so a head with fewer pads with slots that kept their chunk (rebuilding a chunk into the slot
 * that holds it writes the same bits: a key depends only on its token), always distinct slots within a head.
 */
export function keyRebuildPlan(slots: Int32Array, previous: Int32Array | undefined, nKvHeads: number, nSelect: number): KeyRebuildPlan | null | 'all' {
  if (!previous) return 'all';
  let n = 0;
  for (let h = 0; h < nKvHeads; h++) {
    let changed = 0;
    for (let s = h * nSelect; s < (h + 1) * nSelect; s++) if (slots[s] !== previous[s]) changed++;
    n = Math.max(n, changed);
  }
  if (n === 0) return null;
  if (n === nSelect) return 'all';
  const chunks = new Int32Array(nKvHeads * n);
  const to = new Int32Array(nKvHeads * n);
  for (let h = 0; h < nKvHeads; h++) {
    let i = h * n;
    const end = (h + 1) * n;
    for (let s = 0; s < nSelect; s++) {
      const at = h * nSelect + s;
      if (slots[at] !== previous[at]) {
        chunks[i] = slots[at];
        to[i++] = s;
      }
    }
    for (let s = 0; s < nSelect && i < end; s++) {
      const at = h * nSelect + s;
      if (slots[at] === previous[at]) {
        chunks[i] = slots[at];
        to[i++] = s;
      }
    }
  }
  return { chunks, slots: to, n };
}
