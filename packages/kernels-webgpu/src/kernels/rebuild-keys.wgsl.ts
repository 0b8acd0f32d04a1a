// WGSL of the low-rank key rebuild fused with RoPE: one invocation per (KV head, selected token, pair i)
// computes out[i] and out[i + headDim/2] = a[t, :] · b[g, :, i or i+half], then rotates them at t + offset.
// a is bound as a range of its rows [aRow0, aRow0 + aRows); tokens outside it are another dispatch's.
import { defineKernel } from '../kernel-def.js';
import { ROPE_ANGLE_WGSL } from '../rope-table.js';
import { linearMain, SELECTED_CHUNK } from '../wgsl-common.js';

/** into: rebuildKeysInto, out is a decode key buffer [nKv, outRows, headDim] (the selected rows first per head). */
export type RebuildKeysSpec = { readonly headDim: number; readonly into?: boolean };

export function renderRebuildKeys(spec: RebuildKeysSpec): string {
  const d = spec.headDim;
  const half = d / 2;
  return /* wgsl */ `
struct Params {
  total: u32, seqLen: u32, rank: u32, nSel: u32, chunkSize: u32, positionOffset: i32, scaling: f32,
  aRow0: u32, aRows: u32, aShift: u32, outRows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;           // rows [aRow0, aRow0 + aRows) of [seqLen, rank]
@group(0) @binding(2) var<storage, read> b: array<f32>;           // [nKv, rank, headDim]
@group(0) @binding(3) var<storage, read> idx: array<i32>;         // [nKv, nSel]
@group(0) @binding(4) var<storage, read> table: array<vec4<f32>>; // [headDim / 2] (rope-table.ts)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // [nKv, ${spec.into ? 'outRows' : 'nSel * chunkSize'}, headDim]
const D = ${d}u;
const HALF = ${half}u;
${ROPE_ANGLE_WGSL}
${SELECTED_CHUNK}
${linearMain(`
  let i = id % HALF;
  let row = id / HALF;                   // g * nSel * chunkSize + s * chunkSize + j
  let sel = selectedChunk(row);
  let g = sel.g;
  let c = sel.c;
  let o = ${spec.into ? '(g * p.outRows + row % (p.nSel * p.chunkSize)) * D + i' : 'row * D + i'};
  let t = c * i32(p.chunkSize) + i32(sel.j);
  // Tokens outside [0, seqLen) (only possible for GPU-computed indices) rebuild as zeros.
  if (c < 0 || u32(t) >= p.seqLen) { out[o] = 0.0; out[o + HALF] = 0.0; return; }
  if (u32(t) < p.aRow0 || u32(t) - p.aRow0 >= p.aRows) { return; }
  let ao = p.aShift + (u32(t) - p.aRow0) * p.rank;
  let bo = g * p.rank * D + i;
  var x1 = 0.0;
  var x2 = 0.0;
  for (var r = 0u; r < p.rank; r = r + 1u) {
    let coef = a[ao + r];
    x1 = x1 + coef * b[bo + r * D];
    x2 = x2 + coef * b[bo + r * D + HALF];
  }
  let ang = ropeAngle(t + p.positionOffset, table[i]);
  let cs = cos(ang) * p.scaling;
  let sn = sin(ang) * p.scaling;
  out[o] = x1 * cs - x2 * sn;
  out[o + HALF] = x2 * cs + x1 * sn;
`, { index: 'id' })}
`;
}

export const rebuildKeysKernel = defineKernel<RebuildKeysSpec>('rebuildKeys', renderRebuildKeys);
