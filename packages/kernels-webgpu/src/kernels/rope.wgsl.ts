// WGSL of rotary embedding (rotate-half): one invocation per (row, head, pair i) rotates (i, i + headDim/2).
import { defineKernel } from '../kernel-def.js';
import { ROPE_ANGLE_WGSL } from '../rope-table.js';
import { linearMain } from '../wgsl-common.js';

export type RopeSpecialisation = { readonly headDim: number };

export function renderRope(spec: RopeSpecialisation): string {
  const half = spec.headDim / 2;
  return /* wgsl */ `
struct Params { total: u32, nHeads: u32, scaling: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [m, nHeads * headDim]
@group(0) @binding(2) var<storage, read> positions: array<i32>;   // [m]
@group(0) @binding(3) var<storage, read> table: array<vec4<f32>>; // [headDim / 2] (rope-table.ts)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;   // [m, nHeads * headDim]
const HALF = ${half}u;
${ROPE_ANGLE_WGSL}
${linearMain(`
  let i = idx % HALF;
  let head = idx / HALF;                 // row * nHeads + h
  let row = head / p.nHeads;
  let a = ropeAngle(positions[row], table[i]);
  let c = cos(a) * p.scaling;
  let s = sin(a) * p.scaling;
  let o = head * ${spec.headDim}u + i;
  let x1 = x[o];
  let x2 = x[o + HALF];
  out[o] = x1 * c - x2 * s;
  out[o + HALF] = x2 * c + x1 * s;
`, { index: 'idx' })}
`;
}

export const ropeKernel = defineKernel<RopeSpecialisation>('rope', renderRope);
