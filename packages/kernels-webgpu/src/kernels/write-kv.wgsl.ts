// WGSL of writeKv: copies rows x [m, nKvHeads*headDim] into cache [nKvHeads, capacity, headDim] at row `start`,
// for the KV heads [g0, g0+gCount) bound in this part.
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import { defineKernel } from '../kernel-def.js';
import { LINEAR_INDEX } from '../wgsl-common.js';

export type WriteKvSpec = Record<string, never>;

export function renderWriteKv(_spec: WriteKvSpec): string {
  return /* wgsl */ `
struct Params { total: u32, nKv: u32, d: u32, cap: u32, start: u32, g0: u32, gCount: u32, cacheShift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [m, nKv * d]
@group(0) @binding(2) var<storage, read_write> cache: array<f32>; // [gCount, cap, d] (this part)
${LINEAR_INDEX}
@compute @workgroup_size(${LINEAR_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg, ${LINEAR_WORKGROUP}u);
  if (i >= p.total) { return; }
  let e = i % p.d;
  let g = (i / p.d) % p.gCount;
  let row = i / (p.d * p.gCount);
  cache[p.cacheShift + (g * p.cap + p.start + row) * p.d + e] = x[(row * p.nKv + p.g0 + g) * p.d + e];
}
`;
}

export const writeKvKernel = defineKernel<WriteKvSpec>('writeKv', renderWriteKv);
