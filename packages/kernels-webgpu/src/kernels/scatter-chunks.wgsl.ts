// WGSL of scatterChunks (in place): dst[g, idx[g, s]*chunkSize + j, :] = src[g, s*chunkSize + j, :] for the
// KV heads [g0, g0+gCount) of dst and src bound in this part.
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import { defineKernel } from '../kernel-def.js';
import { LINEAR_INDEX } from '../wgsl-common.js';

export type ScatterChunksSpec = Record<string, never>;

export function renderScatterChunks(_spec: ScatterChunksSpec): string {
  return /* wgsl */ `
struct Params { total: u32, rows: u32, d: u32, nSel: u32, chunkSize: u32, g0: u32, dstShift: u32, srcShift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;       // [gCount, nSel * chunkSize, d] (this part)
@group(0) @binding(2) var<storage, read> idx: array<i32>;       // [nKv, nSel]
@group(0) @binding(3) var<storage, read_write> dst: array<f32>; // [gCount, rows, d] (this part)
${LINEAR_INDEX}
@compute @workgroup_size(${LINEAR_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, ${LINEAR_WORKGROUP}u);
  if (i >= p.total) { return; }
  let e = i % p.d;
  let j = (i / p.d) % p.chunkSize;
  let s = (i / (p.d * p.chunkSize)) % p.nSel;
  let g = i / (p.d * p.chunkSize * p.nSel);    // local KV head in this part
  let c = idx[(p.g0 + g) * p.nSel + s];
  // An out-of-range chunk id (only possible for GPU-computed indices) writes nothing.
  if (c < 0 || (u32(c) + 1u) * p.chunkSize > p.rows) { return; }
  dst[p.dstShift + (g * p.rows + u32(c) * p.chunkSize + j) * p.d + e] = src[p.srcShift + i];
}
`;
}

export const scatterChunksKernel = defineKernel<ScatterChunksSpec>('scatterChunks', renderScatterChunks);
