// WGSL of topK: one workgroup per row. A 4-pass radix select (8 bits per pass, histograms in workgroup
// memory) finds the k-th largest key T and how many entries equal to T are taken; a compaction pass then
// writes the chosen indices in ascending order. Ties at T go to the lowest indices, as in the CPU reference.
// Long rows (landmark scores of long contexts) run in two launches so that many workgroups share a row:
// 'segment' selects each segment's top k (its candidates, in index order), 'merge' selects the row's top k
// among the candidates. The row's top k is among them (an entry beaten by k others in its segment is beaten
// by them in the row), and candidate order is index order, so ties still go to the lowest indices.
import { defineKernel } from '../kernel-def.js';
import { workgroupPerRowMain } from '../wgsl-common.js';

export type TopKSpec = { readonly mode?: 'row' | 'segment' | 'merge' };

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

export function renderTopK(spec: TopKSpec): string {
  const mode = spec.mode ?? 'row';
  // Per mode: the entries a workgroup selects among (count), the key and row index of entry i, where it writes.
  const setup = {
    row: `let count = p.n;
  let base = row * p.n;
  let outBase = row * p.k;`,
    segment: `let r = row / p.nSeg;
  let seg = row % p.nSeg;
  let start = seg * p.segLen;
  let count = select(p.segLen, p.n - start, seg == p.nSeg - 1u);
  let base = r * p.n + start;
  let outBase = row * p.k;`,
    merge: `let count = p.nSeg * p.k;
  let base = row * p.n;
  let cbase = row * count;
  let outBase = row * p.k;`,
  }[mode];
  const keyAt = (i: string) => (mode === 'merge' ? `keyOf(x[base + u32(cand[cbase + ${i}])])` : `keyOf(x[base + ${i}])`);
  const idxAt = (i: string) => (mode === 'merge' ? `cand[cbase + ${i}]` : mode === 'segment' ? `i32(start + ${i})` : `i32(${i})`);
  return /* wgsl */ `
// sixteen is 16: the scan loops read their bound from here (see UNROLL_NOTE in wgsl-common.ts).
struct Params { rows: u32, n: u32, k: u32, sixteen: u32, nSeg: u32, segLen: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // [rows, n]
${mode === 'merge' ? '@group(0) @binding(2) var<storage, read> cand: array<i32>;     // [rows, nSeg * k] candidate indices\n@group(0) @binding(3)' : '@group(0) @binding(2)'} var<storage, read_write> out: array<i32>; // [rows, k]${mode === 'segment' ? ' (here: [rows * nSeg, k] candidates)' : ''}
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
  ${setup}
  // Radix select: after round r, prefix holds the top 8(r+1) bits of T and remaining counts how many
  // entries with that prefix are still to be taken.
  var prefix = 0u;
  var remaining = p.k;
  for (var round = 0u; round < 4u; round = round + 1u) {
    let shift = 24u - round * 8u;
    atomicStore(&hist[lid], 0u);
    workgroupBarrier();
    for (var i = lid; i < count; i = i + 256u) {
      let key = ${keyAt('i')};
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
  for (var block = 0u; block < count; block = block + 256u) {
    let i = block + lid;
    var gt = 0u;
    var eq = 0u;
    if (i < count) {
      let key = ${keyAt('i')};
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
    if (take) { out[outBase + written + takeIncl - 1u] = ${idxAt('i')}; }
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
