// WGSL of RMSNorm: one workgroup per row, sum of squares reduced in workgroup memory.
import { defineKernel } from '../kernel-def.js';
import { workgroupPerRowMain, workgroupReduce } from '../wgsl-common.js';

export type RmsNormSpec = Record<string, never>;

export function renderRmsNorm(_spec: RmsNormSpec): string {
  return /* wgsl */ `
// groups is 16 = sqrt(256), for workgroupReduce (see UNROLL_NOTE in wgsl-common.ts).
struct Params { rows: u32, d: u32, eps: f32, groups: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // [rows, d]
@group(0) @binding(2) var<storage, read> w: array<f32>;         // [d]
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [rows, d]
var<workgroup> red: array<f32, 256>;
${workgroupPerRowMain(256, `
  let base = row * p.d;
  var ss = 0.0;
  for (var c = lid; c < p.d; c = c + 256u) { let v = x[base + c]; ss = ss + v * v; }
  red[lid] = ss;
  workgroupBarrier();
  ${workgroupReduce('red', 'lid', 256, 'p.groups', 'ssTotal', (a, b) => `${a} + ${b}`)}
  let r = 1.0 / sqrt(ssTotal / f32(p.d) + p.eps);
  for (var c = lid; c < p.d; c = c + 256u) { out[base + c] = x[base + c] * r * w[c]; }
`)}
`;
}

export const rmsNormKernel = defineKernel<RmsNormSpec>('rmsNorm', renderRmsNorm);
