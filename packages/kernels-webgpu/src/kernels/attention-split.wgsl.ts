// WGSL of decode attention, pass 1: the key range is cut into splits of SPLIT keys; one workgroup per
// (split, group of `heads` query heads sharing one KV head, query row) writes each head's split max score, sum
// of exponentials and unnormalised output [headDim] to a partials buffer. attention-combine.wgsl.ts merges the
// splits. With heads = the GQA group size, each key and value row is loaded once for the whole group (scored
// against every query head of the group as it is loaded) instead of once per query head: the KV bytes a decode
// step reads shrink by the group size (4 for Llama-3.2-1B, 32/8 heads).
import { defineKernel } from '../kernel-def.js';
import { headVectorDecls, NEG_BIG, storeV, vectorWidth, workgroupReduce } from '../wgsl-common.js';

export type AttentionSplitSpec = { readonly headDim: number; readonly split: number; readonly vec4: boolean; readonly heads: number };

/** Invocations per workgroup of the split pass. */
const WG = 64;

/** Workgroup memory of one workgroup (bytes), to pick `heads` under the adapter's limit. */
export function attentionSplitSharedBytes(headDim: number, split: number, heads: number): number {
  const w = headDim % 4 === 0 ? 4 : 1;
  return 4 * (heads * headDim + heads * split + WG * w + WG + 2 * heads);
}

export function renderAttentionSplit(spec: AttentionSplitSpec): string {
  const { headDim: d, split } = spec;
  const G = spec.heads;
  const w = vectorWidth(spec.vec4);
  const dv = d / w;
  // The output pass gives each V of the head row `groups` invocations, each summing every groups-th key.
  const groups = Math.max(1, Math.floor(WG / dv));
  const po = (g: string) => `((row * p.nHeads + hb + ${g}) * p.nSplits + s) * (D + 2u)`;
  return /* wgsl */ `
// dv equals DV, groups is 8 = sqrt(WG) and heads equals G: loop bounds read from here (see UNROLL_NOTE in wgsl-common.ts).
struct Params {
  nHeads: u32, group: u32, kvLen: u32, causal: u32, queryOffset: i32, scale: f32,
  nSplits: u32, cap: u32, h0: u32, kvShift: u32, dv: u32, groups: u32, heads: u32,
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
const G = ${G}u;
var<workgroup> qs: array<V, ${G * dv}>;     // the G query rows
var<workgroup> sc: array<f32, ${G * split}>; // [G, SPLIT] scores, then exponentials
var<workgroup> red: array<f32, ${WG}>;
var<workgroup> outs: array<V, ${WG}>;
var<workgroup> stats: array<f32, ${2 * G}>;  // per head: split max, then split sum
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let hb = p.h0 + wid.y * G;             // first query head of this workgroup (G consecutive heads, one KV head)
  let gl = (wid.y * G) / p.group;        // KV head within this part
  let row = wid.z;
  var limit = p.kvLen;
  if (p.causal != 0u) { limit = u32(clamp(p.queryOffset + i32(row) + 1, 0, i32(p.kvLen))); }
  let j0 = s * SPLIT;
  let j1 = min(j0 + SPLIT, limit);
  let kvBase = p.kvShift / ${w}u + gl * p.cap * DV;
  let qo = (row * p.nHeads + hb) * DV;
  for (var c = lid; c < G * DV; c = c + ${WG}u) { qs[c] = q[qo + c]; }
  workgroupBarrier();
  // Scores of this split's keys against the G queries (each key row loaded once); slots past the limit hold NEG_BIG.
  var mx: array<f32, ${G}>;
  for (var g = 0u; g < p.heads; g = g + 1u) { mx[g] = ${NEG_BIG}; }
  for (var jj = lid; jj < SPLIT; jj = jj + ${WG}u) {
    let j = j0 + jj;
    var acc: array<f32, ${G}>;
    // Zeroed explicitly: a declaration inside a loop has been seen to keep the previous iteration's values.
    for (var g = 0u; g < p.heads; g = g + 1u) { acc[g] = 0.0; }
    if (j < j1) {
      let ko = kvBase + j * DV;
      for (var c = 0u; c < p.dv; c = c + 1u) {
        let kv = k[ko + c];
        for (var g = 0u; g < p.heads; g = g + 1u) { acc[g] = acc[g] + vdot(qs[g * DV + c], kv); }
      }
    }
    for (var g = 0u; g < p.heads; g = g + 1u) {
      var sv = ${NEG_BIG};
      if (j < j1) { sv = acc[g] * p.scale; mx[g] = max(mx[g], sv); }
      sc[g * SPLIT + jj] = sv;
    }
  }
  for (var g = 0u; g < p.heads; g = g + 1u) {
    red[lid] = mx[g];
    workgroupBarrier();
    ${workgroupReduce('red', 'lid', WG, 'p.groups', 'splitMax', (a, b) => `max(${a}, ${b})`)}
    if (lid == 0u) { stats[g] = splitMax; }
    workgroupBarrier();
  }
  var sum: array<f32, ${G}>;
  for (var g = 0u; g < p.heads; g = g + 1u) { sum[g] = 0.0; }
  for (var jj = lid; jj < SPLIT; jj = jj + ${WG}u) {
    for (var g = 0u; g < p.heads; g = g + 1u) {
      var e = 0.0;
      if (j0 + jj < j1) { e = exp(sc[g * SPLIT + jj] - stats[g]); }
      sc[g * SPLIT + jj] = e;
      sum[g] = sum[g] + e;
    }
  }
  for (var g = 0u; g < p.heads; g = g + 1u) {
    red[lid] = sum[g];
    workgroupBarrier();
    ${workgroupReduce('red', 'lid', WG, 'p.groups', 'splitSum', (a, b) => `${a} + ${b}`)}
    if (lid == 0u) { stats[G + g] = splitSum; }
    workgroupBarrier();
  }
  var n = 0u;
  if (j1 > j0) { n = j1 - j0; }
  // Weighted sums of v rows: invocation (part, c) sums keys part, part + GROUPS, ... for V index c, all G
  // heads at once (each value row loaded once).
  let part = lid / DV;
  var accs: array<V, ${G}>;
  for (var c = lid % DV; c < DV; c = c + ${WG}u) {
    for (var g = 0u; g < p.heads; g = g + 1u) { accs[g] = V(0.0); }
    if (part < GROUPS) {
      for (var jj = part; jj < n; jj = jj + GROUPS) {
        let vv = v[kvBase + (j0 + jj) * DV + c];
        for (var g = 0u; g < p.heads; g = g + 1u) { accs[g] = accs[g] + sc[g * SPLIT + jj] * vv; }
      }
    }
    ${groups > 1 ? '' : `if (part < GROUPS) {
      for (var g = 0u; g < p.heads; g = g + 1u) { ${storeV('partials', `${po('g')} + c * ${w}u`, 'accs[g]', spec.vec4)} }
    }`}
  }
  ${
    groups > 1
      ? `for (var g = 0u; g < p.heads; g = g + 1u) {
    outs[lid] = accs[g];
    workgroupBarrier();
    if (lid < DV) {
      var total = outs[lid];
      for (var i = 1u; i < GROUPS; i = i + 1u) { total = total + outs[i * DV + lid]; }
      ${storeV('partials', `${po('g')} + lid * ${w}u`, 'total', spec.vec4)}
    }
    workgroupBarrier();
  }`
      : ''
  }
  if (lid == 0u) {
    for (var g = 0u; g < p.heads; g = g + 1u) {
      partials[${po('g')} + D] = stats[g];
      partials[${po('g')} + D + 1u] = stats[G + g];
    }
  }
}
`;
}

export const attentionSplitKernel = defineKernel<AttentionSplitSpec>('attentionSplit', renderAttentionSplit);
