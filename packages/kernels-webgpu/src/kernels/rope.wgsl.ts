// WGSL of rotary embedding (rotate-half): one invocation per (row, head, pair i) rotates (i, i + headDim/2).
// The `qk` variant rotates the queries and the keys of a step in one launch (ropeQk): heads 0..nHeads of a row
// are q's, the next nKvHeads k's.
import { defineKernel } from '../kernel-def.js';
import { ROPE_ANGLE_WGSL } from '../rope-table.js';
import { linearMain } from '../wgsl-common.js';

export type RopeSpecialisation = { readonly headDim: number; readonly qk?: boolean };

export function renderRope(spec: RopeSpecialisation): string {
  const half = spec.headDim / 2;
  const rotate = (src: string, dst: string, head: string) => `let o = ${head} * ${spec.headDim}u + i;
  let x1 = ${src}[o];
  let x2 = ${src}[o + HALF];
  ${dst}[o] = x1 * c - x2 * s;
  ${dst}[o + HALF] = x2 * c + x1 * s;`;
  if (spec.qk) {
    return /* wgsl */ `
struct Params { total: u32, nHeads: u32, scaling: f32, nKvHeads: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;           // [m, nHeads * headDim]
@group(0) @binding(2) var<storage, read> k: array<f32>;           // [m, nKvHeads * headDim]
@group(0) @binding(3) var<storage, read> positions: array<i32>;   // [m]
@group(0) @binding(4) var<storage, read> table: array<vec4<f32>>; // [headDim / 2] (rope-table.ts)
@group(0) @binding(5) var<storage, read_write> outQ: array<f32>;  // [m, nHeads * headDim]
@group(0) @binding(6) var<storage, read_write> outK: array<f32>;  // [m, nKvHeads * headDim]
const HALF = ${half}u;
${ROPE_ANGLE_WGSL}
${linearMain(`
  let i = idx % HALF;
  let all = p.nHeads + p.nKvHeads;
  let row = idx / HALF / all;
  let h = (idx / HALF) % all;
  let a = ropeAngle(positions[row], table[i]);
  let c = cos(a) * p.scaling;
  let s = sin(a) * p.scaling;
  if (h < p.nHeads) {
    ${rotate('q', 'outQ', '(row * p.nHeads + h)')}
  } else {
    ${rotate('k', 'outK', '(row * p.nKvHeads + h - p.nHeads)')}
  }
`, { index: 'idx' })}
`;
  }
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
  ${rotate('x', 'out', 'head')}
`, { index: 'idx' })}
`;
}

export const ropeKernel = defineKernel<RopeSpecialisation>('rope', renderRope);
