// WGSL of gatherChunks over one (out part, src part) pair: out[g, s*chunkSize + j, :] =
// src[g, idx[g, s]*chunkSize + j, :]. Both tensors are bound as ranges of token rows (headDim floats each);
// an invocation copies only when its source row lies in the bound src range, so every pair of parts
// together covers the output once.
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import { defineKernel } from '../kernel-def.js';
import { LINEAR_INDEX } from '../wgsl-common.js';

export type GatherChunksSpec = Record<string, never>;

export function renderGatherChunks(_spec: GatherChunksSpec): string {
  return /* wgsl */ `
struct Params {
  total: u32, rows: u32, d: u32, nSel: u32, chunkSize: u32,
  outRow0: u32, outShift: u32, srcRow0: u32, srcRows: u32, srcShift: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;       // token rows [srcRow0, srcRow0 + srcRows) of [nKv * rows, d]
@group(0) @binding(2) var<storage, read> idx: array<i32>;       // [nKv, nSel]
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // token rows from outRow0 of [nKv * nSel * chunkSize, d]
${LINEAR_INDEX}
@compute @workgroup_size(${LINEAR_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, ${LINEAR_WORKGROUP}u);
  if (i >= p.total) { return; }
  let e = i % p.d;
  let outRow = p.outRow0 + i / p.d;           // g * nSel * chunkSize + s * chunkSize + j
  let j = outRow % p.chunkSize;
  let s = (outRow / p.chunkSize) % p.nSel;
  let g = outRow / (p.chunkSize * p.nSel);
  let c = idx[g * p.nSel + s];
  let o = p.outShift + i;
  // An out-of-range chunk id (only possible for GPU-computed indices) gathers zeros.
  if (c < 0 || (u32(c) + 1u) * p.chunkSize > p.rows) { out[o] = 0.0; return; }
  let srcRow = g * p.rows + u32(c) * p.chunkSize + j;
  if (srcRow < p.srcRow0 || srcRow - p.srcRow0 >= p.srcRows) { return; }
  out[o] = src[p.srcShift + (srcRow - p.srcRow0) * p.d + e];
}
`;
}

export const gatherChunksKernel = defineKernel<GatherChunksSpec>('gatherChunks', renderGatherChunks);
