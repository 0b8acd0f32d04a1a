// WGSL of gatherChunks over one (out part, src part) pair: out[g, s*chunkSize + j, :] =
// src[g, idx[g, s]*chunkSize + j, :]. Both tensors are bound as ranges of token rows (headDim floats each);
// an invocation copies only when its source row lies in the bound src range, so every pair of parts
// together covers the output once.
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import { defineKernel } from '../kernel-def.js';
import { CHUNK_ROW, LINEAR_INDEX } from '../wgsl-common.js';

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
${CHUNK_ROW}
@compute @workgroup_size(${LINEAR_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, ${LINEAR_WORKGROUP}u);
  if (i >= p.total) { return; }
  let o = p.outShift + i;
  let srcRow = chunkRow(p.outRow0 + i / p.d, p.nSel, p.chunkSize, p.rows);
  // An out-of-range chunk id gathers zeros.
  if (srcRow == NO_ROW) { out[o] = 0.0; return; }
  if (srcRow < p.srcRow0 || srcRow - p.srcRow0 >= p.srcRows) { return; }
  out[o] = src[p.srcShift + (srcRow - p.srcRow0) * p.d + i % p.d];
}
`;
}

export const gatherChunksKernel = defineKernel<GatherChunksSpec>('gatherChunks', renderGatherChunks);
