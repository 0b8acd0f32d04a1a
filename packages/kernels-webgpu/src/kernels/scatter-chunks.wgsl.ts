// WGSL of scatterChunks (in place) over one (src part, dst part) pair: dst[g, idx[g, s]*chunkSize + j, :] =
// src[g, s*chunkSize + j, :]. Both tensors are bound as ranges of token rows (headDim floats each); an
// invocation writes only when its destination row lies in the bound dst range. Chunk ids of one head
// are distinct, so no two invocations write the same element.
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import { defineKernel } from '../kernel-def.js';
import { CHUNK_ROW, LINEAR_INDEX } from '../wgsl-common.js';

export type ScatterChunksSpec = Record<string, never>;

export function renderScatterChunks(_spec: ScatterChunksSpec): string {
  return /* wgsl */ `
struct Params {
  total: u32, rows: u32, d: u32, nSel: u32, chunkSize: u32,
  srcRow0: u32, srcShift: u32, dstRow0: u32, dstRows: u32, dstShift: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;       // token rows from srcRow0 of [nKv * nSel * chunkSize, d]
@group(0) @binding(2) var<storage, read> idx: array<i32>;       // [nKv, nSel]
@group(0) @binding(3) var<storage, read_write> dst: array<f32>; // token rows [dstRow0, dstRow0 + dstRows) of [nKv * rows, d]
${LINEAR_INDEX}
${CHUNK_ROW}
@compute @workgroup_size(${LINEAR_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, ${LINEAR_WORKGROUP}u);
  if (i >= p.total) { return; }
  let dstRow = chunkRow(p.srcRow0 + i / p.d, p.nSel, p.chunkSize, p.rows);
  // An out-of-range chunk id writes nothing.
  if (dstRow == NO_ROW) { return; }
  if (dstRow < p.dstRow0 || dstRow - p.dstRow0 >= p.dstRows) { return; }
  dst[p.dstShift + (dstRow - p.dstRow0) * p.d + i % p.d] = src[p.srcShift + i];
}
`;
}

export const scatterChunksKernel = defineKernel<ScatterChunksSpec>('scatterChunks', renderScatterChunks);
