// WGSL of decode attention, pass 1: the key range is cut into splits of SPLIT keys; one workgroup per
// (split, query head, query row) writes the split's max score, sum of exponentials and unnormalised
// output [headDim] to a partials buffer. attention-combine.wgsl.ts merges the splits.
import { defineKernel } from '../kernel-def.js';
import { headVectorDecls, NEG_BIG, storeV, vectorWidth, workgroupReduce } from '../wgsl-common.js';

export type AttentionSplitSpec = { readonly headDim: number; readonly split: number; readonly vec4: boolean };

/** Invocations per workgroup of the split pass. */
const WG = 64;

export function renderAttentionSplit(spec: AttentionSplitSpec): string {
  const { headDim: d, split } = spec;
  const w = vectorWidth(spec.vec4);
  const dv = d / w;
  // The output pass gives each V of the head row `groups` invocations, each summing every groups-th key.
  const groups = Math.max(1, Math.floor(WG / dv));
  return /* wgsl */ `
// dv equals DV and groups is 8 = sqrt(WG): loop bounds read from here (see UNROLL_NOTE in wgsl-common.ts).
struct Params {
  nHeads: u32, group: u32, kvLen: u32, causal: u32, queryOffset: i32, scale: f32,
  nSplits: u32, cap: u32, h0: u32, kvShift: u32, dv: u32, groups: u32,
}
${headVectorDecls(d, spec.vec4)}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<V>;                // [m, nHeads, DV]
@group(0) @binding(2) var<storage, read> k: array<V>;                // [kv heads of this part, cap, DV]
@group(0) @binding(3) var<storage, read> v: array<V>;                // [kv heads of this part, cap, DV]
@group(0) @binding(4) var<storage, read_write> partials: array<f32>; // [m, nHeads, nSplits, D + 2]
const D = ${d}u;
const SPLIT = ${split}u;
const GROUPS = ${groups}u;
var<workgroup> qs: array<V, ${dv}>;
var<workgroup> sc: array<f32, ${split}>;
var<workgroup> red: array<f32, ${WG}>;
var<workgroup> outs: array<V, ${WG}>;
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
  let kvBase = p.kvShift / ${w}u + gl * p.cap * DV;
  let qo = (row * p.nHeads + h) * DV;
  for (var c = lid; c < DV; c = c + ${WG}u) { qs[c] = q[qo + c]; }
  workgroupBarrier();
  // Scores of this split's keys; slots past the causal limit hold NEG_BIG.
  var mx = ${NEG_BIG};
  for (var jj = lid; jj < SPLIT; jj = jj + ${WG}u) {
    let j = j0 + jj;
    var sv = ${NEG_BIG};
    if (j < j1) {
      let ko = kvBase + j * DV;
      var acc = 0.0;
      for (var c = 0u; c < p.dv; c = c + 1u) { acc = acc + vdot(qs[c], k[ko + c]); }
      sv = acc * p.scale;
      mx = max(mx, sv);
    }
    sc[jj] = sv;
  }
  red[lid] = mx;
  workgroupBarrier();
  ${workgroupReduce('red', 'lid', WG, 'p.groups', 'splitMax', (a, b) => `max(${a}, ${b})`)}
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
  ${workgroupReduce('red', 'lid', WG, 'p.groups', 'splitSum', (a, b) => `${a} + ${b}`)}
  var n = 0u;
  if (j1 > j0) { n = j1 - j0; }
  let po = ((row * p.nHeads + h) * p.nSplits + s) * (D + 2u);
  // Weighted sum of v rows: invocation (part, c) sums keys part, part + GROUPS, ... for V index c.
  let part = lid / DV;
  for (var c = lid % DV; c < DV; c = c + ${WG}u) {
    var acc = V(0.0);
    if (part < GROUPS) {
      for (var jj = part; jj < n; jj = jj + GROUPS) { acc = acc + sc[jj] * v[kvBase + (j0 + jj) * DV + c]; }
    }
    ${groups > 1 ? `outs[lid] = acc;` : `if (part < GROUPS) { ${storeV('partials', `po + c * ${w}u`, 'acc', spec.vec4)} }`}
  }
  ${
    groups > 1
      ? `workgroupBarrier();
  if (lid < DV) {
    var total = outs[lid];
    for (var g = 1u; g < GROUPS; g = g + 1u) { total = total + outs[g * DV + lid]; }
    ${storeV('partials', `po + lid * ${w}u`, 'total', spec.vec4)}
  }`
      : ''
  }
  if (lid == 0u) {
    partials[po + D] = splitMax;
    partials[po + D + 1u] = splitSum;
  }
}
`;
}

export const attentionSplitKernel = defineKernel<AttentionSplitSpec>('attentionSplit', renderAttentionSplit);
