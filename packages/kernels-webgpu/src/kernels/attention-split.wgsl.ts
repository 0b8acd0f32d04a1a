// WGSL of decode attention, pass 1: the key range is cut into splits of SPLIT keys; one workgroup per
// (split, query head, query row) writes the split's max score, sum of exponentials and unnormalised
// output [headDim] to a partials buffer. attention-combine.wgsl.ts merges the splits.
import { defineKernel } from '../kernel-def.js';
import { NEG_BIG, workgroupReduce } from '../wgsl-common.js';

export type AttentionSplitSpec = { readonly headDim: number; readonly split: number };

/** Invocations per workgroup of the split pass. */
const WG = 64;

export function renderAttentionSplit(spec: AttentionSplitSpec): string {
  const { headDim: d, split } = spec;
  return /* wgsl */ `
struct Params {
  nHeads: u32, group: u32, kvLen: u32, causal: u32, queryOffset: i32, scale: f32,
  nSplits: u32, cap: u32, h0: u32, kvShift: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;              // [m, nHeads * D]
@group(0) @binding(2) var<storage, read> k: array<f32>;              // [kv heads of this part, cap, D]
@group(0) @binding(3) var<storage, read> v: array<f32>;              // [kv heads of this part, cap, D]
@group(0) @binding(4) var<storage, read_write> partials: array<f32>; // [m, nHeads, nSplits, D + 2]
const D = ${d}u;
const SPLIT = ${split}u;
var<workgroup> qs: array<f32, ${d}>;
var<workgroup> sc: array<f32, ${split}>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let h = p.h0 + wid.y;                  // query head
  let gl = wid.y / p.group;              // KV head within this part
  let row = wid.z;
  var limit = p.kvLen;
  if (p.causal != 0u) { limit = u32(clamp(p.queryOffset + i32(row) + 1, 0, i32(p.kvLen))); }
  let j0 = s * SPLIT;
  let j1 = min(j0 + SPLIT, limit);
  let qo = (row * p.nHeads + h) * D;
  for (var c = lid; c < D; c = c + ${WG}u) { qs[c] = q[qo + c]; }
  workgroupBarrier();
  // Scores of this split's keys; slots past the causal limit hold NEG_BIG.
  var mx = ${NEG_BIG};
  for (var jj = lid; jj < SPLIT; jj = jj + ${WG}u) {
    let j = j0 + jj;
    var sv = ${NEG_BIG};
    if (j < j1) {
      let ko = p.kvShift + (gl * p.cap + j) * D;
      var dot = 0.0;
      for (var c = 0u; c < D; c = c + 1u) { dot = dot + qs[c] * k[ko + c]; }
      sv = dot * p.scale;
      mx = max(mx, sv);
    }
    sc[jj] = sv;
  }
  red[lid] = mx;
  workgroupBarrier();
  ${workgroupReduce('red', 'lid', WG, 'splitMax', (a, b) => `max(${a}, ${b})`)}
  workgroupBarrier();
  var sum = 0.0;
  for (var jj = lid; jj < SPLIT; jj = jj + ${WG}u) {
    var e = 0.0;
    if (j0 + jj < j1) { e = exp(sc[jj] - splitMax); }
    sc[jj] = e;
    sum = sum + e;
  }
  red[lid] = sum;
  workgroupBarrier();
  ${workgroupReduce('red', 'lid', WG, 'splitSum', (a, b) => `${a} + ${b}`)}
  let po = ((row * p.nHeads + h) * p.nSplits + s) * (D + 2u);
  var n = 0u;
  if (j1 > j0) { n = j1 - j0; }
  for (var c = lid; c < D; c = c + ${WG}u) {
    var acc = 0.0;
    for (var jj = 0u; jj < n; jj = jj + 1u) { acc = acc + sc[jj] * v[p.kvShift + (gl * p.cap + j0 + jj) * D + c]; }
    partials[po + c] = acc;
  }
  if (lid == 0u) {
    partials[po + D] = splitMax;
    partials[po + D + 1u] = splitSum;
  }
}
`;
}

export const attentionSplitKernel = defineKernel<AttentionSplitSpec>('attentionSplit', renderAttentionSplit);
