// WGSL of chunkCacheUpdate: ChunkCache's hit/miss/slot rule on the device, one workgroup for all KV heads
// (a few hundred selected chunks per head: microseconds), heads one after another so the misses list is
// compact and in head order without a second launch. Per head, in phases separated by barriers:
//   0. order[h, s] = -1 for s < n (a slot no hit holds yet), 0 past n;
//   1. every selected chunk looks up its slot; a slot below n is a hit and writes order[h, slot];
//   2. two block prefix sums: the rank of each miss in selection order, and the free slots (-1 in order) in
//      ascending order; miss i goes to free slot i (as many free slots as misses);
//   3. each miss clears what its slot held (the evicted chunk's entry) and any copy of itself past n;
//   4. each miss records itself (full chunks only), writes order and, within capacity, chunk * slots + slot.
// Phases 3 and 4 touch distinct entries within a phase (an evicted chunk is never a miss recorded below n, a
// miss's old copy is never a free slot), so the result equals the sequential reference.
import { defineKernel } from '../kernel-def.js';

/** wg: invocations (64 or 256; a power of two): the kernel is barrier-bound, so no wider than the slots need. */
export type ChunkCacheUpdateSpec = { readonly mapped: boolean; readonly wg: number };

export function renderChunkCacheUpdate(spec: ChunkCacheUpdateSpec): string {
  const WG = spec.wg;
  const chunkOf = spec.mapped ? 'posMap[h * p.nMap + u32(sel[h * p.n + s])]' : 'sel[h * p.n + s]';
  return /* wgsl */ `
struct Params { nKv: u32, n: u32, slots: u32, width: u32, chunkCap: u32, fullChunks: u32, capacity: u32, nMap: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> tbl: array<i32>;     // [nKv, slots + chunkCap]: slotChunk | chunkSlot
@group(0) @binding(2) var<storage, read> sel: array<i32>;           // [nKv, n]
@group(0) @binding(3) var<storage, read> posMap: array<i32>;        // [nKv, nMap] (sel again when unmapped)
@group(0) @binding(4) var<storage, read_write> order: array<i32>;   // [nKv, slots]
@group(0) @binding(5) var<storage, read_write> misses: array<i32>;  // [nKv + capacity]: counts, chunk * slots + slot
@group(0) @binding(6) var<storage, read_write> scratch: array<i32>; // [3, n]: chunk id, miss rank or -1, free slot of rank
var<workgroup> scan: array<u32, ${WG}>;

// Inclusive prefix sum over the workgroup of v; every invocation must reach it. Returns (inclusive, total).
fn blockScan(lid: u32, v: u32) -> vec2<u32> {
  scan[lid] = v;
  workgroupBarrier();
  for (var off = 1u; off < ${WG}u; off = off * 2u) {
    var t = 0u;
    if (lid >= off) { t = scan[lid - off]; }
    workgroupBarrier();
    scan[lid] = scan[lid] + t;
    workgroupBarrier();
  }
  let r = vec2<u32>(scan[lid], scan[${WG - 1}u]);
  workgroupBarrier();
  return r;
}

fn validChunk(c: i32) -> bool { return c >= 0 && u32(c) < p.chunkCap; }

// The slot chunk c is recorded in, or -1.
fn slotOf(h: u32, c: i32) -> i32 {
  if (!validChunk(c)) { return -1; }
  return tbl[h * p.width + p.slots + u32(c)];
}

fn isHit(h: u32, c: i32) -> bool {
  let r = slotOf(h, c);
  return r >= 0 && u32(r) < p.n;
}

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var listed = 0u; // misses of the heads before h (same in every invocation)
  for (var h = 0u; h < p.nKv; h = h + 1u) {
    // 0.
    for (var s = lid; s < p.slots; s = s + ${WG}u) { order[h * p.slots + s] = select(0, -1, s < p.n); }
    storageBarrier();
    // 1.
    for (var s = lid; s < p.n; s = s + ${WG}u) {
      let c = ${chunkOf};
      scratch[s] = c;
      let r = slotOf(h, c);
      if (r >= 0 && u32(r) < p.n) { order[h * p.slots + u32(r)] = c; }
    }
    storageBarrier();
    // 2.
    var nMissed = 0u;
    for (var b = 0u; b < p.n; b = b + ${WG}u) {
      let s = b + lid;
      var miss = false;
      if (s < p.n) { miss = !isHit(h, scratch[s]); }
      let sc = blockScan(lid, select(0u, 1u, miss));
      if (s < p.n) { scratch[p.n + s] = select(-1, i32(nMissed + sc.x - 1u), miss); }
      nMissed = nMissed + sc.y;
    }
    var nFree = 0u;
    for (var b = 0u; b < p.n; b = b + ${WG}u) {
      let f = b + lid;
      var free = false;
      if (f < p.n) { free = order[h * p.slots + f] == -1; }
      let sc = blockScan(lid, select(0u, 1u, free));
      if (free) { scratch[2u * p.n + nFree + sc.x - 1u] = i32(f); }
      nFree = nFree + sc.y;
    }
    storageBarrier();
    // 3.
    for (var s = lid; s < p.n; s = s + ${WG}u) {
      let rank = scratch[p.n + s];
      if (rank < 0) { continue; }
      let c = scratch[s];
      let f = u32(scratch[2u * p.n + u32(rank)]);
      let old = tbl[h * p.width + f];
      if (validChunk(old)) { tbl[h * p.width + p.slots + u32(old)] = -1; }
      let res = slotOf(h, c);
      if (res >= 0) { tbl[h * p.width + u32(res)] = -1; }
    }
    storageBarrier();
    // 4.
    for (var s = lid; s < p.n; s = s + ${WG}u) {
      let rank = scratch[p.n + s];
      if (rank < 0) { continue; }
      let c = scratch[s];
      let f = scratch[2u * p.n + u32(rank)];
      let full = validChunk(c) && u32(c) < p.fullChunks;
      tbl[h * p.width + u32(f)] = select(-1, c, full);
      if (validChunk(c)) { tbl[h * p.width + p.slots + u32(c)] = select(-1, f, full); }
      order[h * p.slots + u32(f)] = c;
      let entry = listed + u32(rank);
      if (entry < p.capacity) { misses[p.nKv + entry] = c * i32(p.slots) + f; }
    }
    if (lid == 0u) { misses[h] = i32(nMissed); }
    listed = listed + nMissed;
    storageBarrier();
  }
}
`;
}

export const chunkCacheUpdateKernel = defineKernel<ChunkCacheUpdateSpec>('chunkCacheUpdate', renderChunkCacheUpdate);
