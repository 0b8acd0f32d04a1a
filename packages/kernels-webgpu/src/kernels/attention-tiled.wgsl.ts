// WGSL of prefill attention (flash-attention style): one workgroup per (block of BQ query rows, query
// head). Key/value tiles of BK rows are staged in workgroup memory and folded into a running max, sum
// and output per row (online softmax), so no [m, kvLen] score matrix exists. All per-row state lives
// in workgroup memory, not in private arrays, which keeps lavapipe's shader compile time low.
import { defineKernel } from '../kernel-def.js';
import { headVectorDecls, NEG_BIG, storeV, vectorWidth } from '../wgsl-common.js';

export type AttentionTiledSpec = { readonly headDim: number; readonly vec4: boolean };

/** Invocations per workgroup. */
const WG = 64;
/** Workgroup memory budget: the WebGPU minimum maxComputeWorkgroupStorageSize. */
const WORKGROUP_BYTES = 16384;

/** Query rows (bq) and keys (bk) per tile for a head dim: the largest up to 16x16 that fits the budget. */
export function attentionTiles(headDim: number): { bq: number; bk: number } {
  let bq = 16;
  let bk = 16;
  const bytes = (): number => 4 * (2 * bk * headDim + bq * bk + bq * headDim + 3 * bq);
  while (bytes() > WORKGROUP_BYTES && (bq > 1 || bk > 1)) {
    if (bk >= bq && bk > 1) bk /= 2;
    else bq /= 2;
  }
  return { bq, bk };
}

export function renderAttentionTiled(spec: AttentionTiledSpec): string {
  const d = spec.headDim;
  const w = vectorWidth(spec.vec4);
  const dv = d / w;
  const { bq, bk } = attentionTiles(d);
  return /* wgsl */ `
// dv and bk equal DV and BK: inner loop bounds read from here (see UNROLL_NOTE in wgsl-common.ts).
struct Params {
  m: u32, nHeads: u32, group: u32, kvLen: u32, causal: u32, queryOffset: i32, scale: f32,
  cap: u32, h0: u32, kvShift: u32, dv: u32, bk: u32,
}
${headVectorDecls(d, spec.vec4)}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<V>;           // [m, nHeads, DV]
@group(0) @binding(2) var<storage, read> k: array<V>;           // [kv heads of this part, cap, DV]
@group(0) @binding(3) var<storage, read> v: array<V>;           // [kv heads of this part, cap, DV]
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // [m, nHeads * D]
const BQ = ${bq}u;
const BK = ${bk}u;
var<workgroup> ks: array<V, ${bk * dv}>;    // [BK, DV]
var<workgroup> vs: array<V, ${bk * dv}>;    // [BK, DV]
var<workgroup> sc: array<f32, ${bq * bk}>;  // [BQ, BK] scores, then probabilities
var<workgroup> acc: array<V, ${bq * dv}>;   // [BQ, DV] unnormalised outputs
var<workgroup> rowMax: array<f32, ${bq}>;
var<workgroup> rowSum: array<f32, ${bq}>;
var<workgroup> rowCorr: array<f32, ${bq}>;
// Keys query row \`row\` may see.
fn rowLimit(row: u32) -> u32 {
  if (p.causal == 0u) { return p.kvLen; }
  return u32(clamp(p.queryOffset + i32(row) + 1, 0, i32(p.kvLen)));
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = p.h0 + wid.y;
  let gl = wid.y / p.group;
  let row0 = wid.x * BQ;
  // Keys any row of the block may see (uniform over the workgroup).
  let blockLimit = rowLimit(min(p.m, row0 + BQ) - 1u);
  let kvBase = p.kvShift / ${w}u + gl * p.cap * DV;
  for (var i = lid; i < BQ * DV; i = i + ${WG}u) { acc[i] = V(0.0); }
  if (lid < BQ) { rowMax[lid] = ${NEG_BIG}; rowSum[lid] = 0.0; }
  workgroupBarrier();
  for (var t0 = 0u; t0 < blockLimit; t0 = t0 + BK) {
    for (var i = lid; i < BK * DV; i = i + ${WG}u) {
      let j = t0 + i / DV;
      var kv = V(0.0);
      var vv = V(0.0);
      if (j < blockLimit) { kv = k[kvBase + j * DV + i % DV]; vv = v[kvBase + j * DV + i % DV]; }
      ks[i] = kv;
      vs[i] = vv;
    }
    workgroupBarrier();
    for (var i = lid; i < BQ * BK; i = i + ${WG}u) {
      let row = row0 + i / BK;
      let jj = i % BK;
      var s = ${NEG_BIG};
      if (row < p.m && t0 + jj < rowLimit(row)) {
        let qo = (row * p.nHeads + h) * DV;
        var dot = 0.0;
        for (var c = 0u; c < p.dv; c = c + 1u) { dot = dot + vdot(q[qo + c], ks[jj * DV + c]); }
        s = dot * p.scale;
      }
      sc[i] = s;
    }
    workgroupBarrier();
    if (lid < BQ) {
      // Online softmax update of row lid; masked slots (NEG_BIG) get probability 0.
      var tileMax = ${NEG_BIG};
      for (var jj = 0u; jj < p.bk; jj = jj + 1u) { tileMax = max(tileMax, sc[lid * BK + jj]); }
      var corr = 1.0;
      if (tileMax > ${NEG_BIG}) {
        let newMax = max(rowMax[lid], tileMax);
        corr = exp(rowMax[lid] - newMax);
        var sum = rowSum[lid] * corr;
        for (var jj = 0u; jj < p.bk; jj = jj + 1u) {
          let s = sc[lid * BK + jj];
          var pj = 0.0;
          if (s > ${NEG_BIG}) { pj = exp(s - newMax); }
          sc[lid * BK + jj] = pj;
          sum = sum + pj;
        }
        rowMax[lid] = newMax;
        rowSum[lid] = sum;
      } else {
        for (var jj = 0u; jj < p.bk; jj = jj + 1u) { sc[lid * BK + jj] = 0.0; }
      }
      rowCorr[lid] = corr;
    }
    workgroupBarrier();
    for (var i = lid; i < BQ * DV; i = i + ${WG}u) {
      let r = i / DV;
      let c = i % DV;
      var a = acc[i] * rowCorr[r];
      for (var jj = 0u; jj < p.bk; jj = jj + 1u) { a = a + sc[r * BK + jj] * vs[jj * DV + c]; }
      acc[i] = a;
    }
    workgroupBarrier();
  }
  for (var i = lid; i < BQ * DV; i = i + ${WG}u) {
    let row = row0 + i / DV;
    if (row < p.m) {
      // A row that sees no key (causal, before the cache start) outputs zeros, as in the CPU reference.
      var inv = 0.0;
      if (rowSum[i / DV] > 0.0) { inv = 1.0 / rowSum[i / DV]; }
      let o = (row * p.nHeads + h) * DV + i % DV;
      let r = acc[i] * inv;
      ${storeV('out', `o * ${w}u`, 'r', spec.vec4)}
    }
  }
}
`;
}

export const attentionTiledKernel = defineKernel<AttentionTiledSpec>('attentionTiled', renderAttentionTiled);
