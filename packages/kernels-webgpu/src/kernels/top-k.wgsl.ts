// WGSL of topK: one workgroup per row. A 4-pass radix select (8 bits per pass, histograms in workgroup
// memory) finds the k-th largest key T and how many entries equal to T are taken; a compaction pass then
// writes the chosen indices in ascending order. Ties at T go to the lowest indices, as in the CPU reference.
import { defineKernel } from '../kernel-def.js';
import { workgroupPerRowMain } from '../wgsl-common.js';

export type TopKSpec = Record<string, never>;

/**
 * Inclusive prefix sum of \`arr[0..256)\` into \`var result\` (this invocation's slot), in two levels of 16
 * so that it needs two barriers rather than sixteen. Reached by all invocations; \`total\` gets arr's sum.
 */
function inclusiveScan(arr: string, result: string, total: string): string {
  return `if (lid < 16u) {
      for (var i = 1u; i < p.sixteen; i = i + 1u) { ${arr}[lid * 16u + i] = ${arr}[lid * 16u + i] + ${arr}[lid * 16u + i - 1u]; }
    }
    workgroupBarrier();
    var ${result} = ${arr}[lid];
    var ${total} = 0u;
    for (var gi = 0u; gi < p.sixteen; gi = gi + 1u) {
      let groupSum = ${arr}[gi * 16u + 15u];
      if (gi < lid / 16u) { ${result} = ${result} + groupSum; }
      ${total} = ${total} + groupSum;
    }`;
}

export function renderTopK(_spec: TopKSpec): string {
  return /* wgsl */ `
// sixteen is 16: the scan loops read their bound from here (see UNROLL_NOTE in wgsl-common.ts).
struct Params { rows: u32, n: u32, k: u32, sixteen: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // [rows, n]
@group(0) @binding(2) var<storage, read_write> out: array<i32>; // [rows, k]
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> chosenPrefix: u32;
var<workgroup> chosenRemaining: u32;
var<workgroup> scanEq: array<u32, 256>;
var<workgroup> scanTake: array<u32, 256>;
// Order-preserving map f32 → u32 (larger value, larger key); -0 counts as +0 like the CPU comparator.
fn keyOf(v: f32) -> u32 {
  let b = bitcast<u32>(select(v, 0.0, v == 0.0));
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
${workgroupPerRowMain(256, `
  if (p.k == 0u) { return; }
  let base = row * p.n;
  // Radix select: after round r, prefix holds the top 8(r+1) bits of T and remaining counts how many
  // entries with that prefix are still to be taken.
  var prefix = 0u;
  var remaining = p.k;
  for (var round = 0u; round < 4u; round = round + 1u) {
    let shift = 24u - round * 8u;
    atomicStore(&hist[lid], 0u);
    workgroupBarrier();
    for (var i = lid; i < p.n; i = i + 256u) {
      let key = keyOf(x[base + i]);
      if (round == 0u || (key >> (shift + 8u)) == prefix) { atomicAdd(&hist[(key >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var acc = 0u;
      var bin = 255u;
      loop {
        let c = atomicLoad(&hist[bin]);
        if (acc + c >= remaining || bin == 0u) { break; }
        acc = acc + c;
        bin = bin - 1u;
      }
      chosenPrefix = (prefix << 8u) | bin;
      chosenRemaining = remaining - acc;
    }
    prefix = workgroupUniformLoad(&chosenPrefix);
    remaining = workgroupUniformLoad(&chosenRemaining);
  }
  let threshold = prefix;
  let needEqual = remaining;
  // Compaction in index order, 256 entries at a time.
  var written = 0u;
  var equalSeen = 0u;
  for (var start = 0u; start < p.n; start = start + 256u) {
    let i = start + lid;
    var gt = 0u;
    var eq = 0u;
    if (i < p.n) {
      let key = keyOf(x[base + i]);
      gt = select(0u, 1u, key > threshold);
      eq = select(0u, 1u, key == threshold);
    }
    scanEq[lid] = eq;
    workgroupBarrier();
    ${inclusiveScan('scanEq', 'eqIncl', 'eqTotal')}
    let take = gt == 1u || (eq == 1u && equalSeen + eqIncl - eq < needEqual);
    scanTake[lid] = select(0u, 1u, take);
    workgroupBarrier();
    ${inclusiveScan('scanTake', 'takeIncl', 'takeTotal')}
    if (take) { out[row * p.k + written + takeIncl - 1u] = i32(i); }
    // eqTotal and takeTotal are the same in every invocation; the barrier keeps the next block from
    // overwriting the scan arrays while others still read them.
    written = written + takeTotal;
    equalSeen = equalSeen + eqTotal;
    workgroupBarrier();
  }
`)}
`;
}

export const topKKernel = defineKernel<TopKSpec>('topK', renderTopK);
