// WGSL of the row softmax: one workgroup per row; max, then sum of exponentials, reduced in workgroup memory.
import { defineKernel } from '../kernel-def.js';
import { NEG_BIG, workgroupPerRowMain, workgroupReduce } from '../wgsl-common.js';

export type SoftmaxSpec = Record<string, never>;

export function renderSoftmax(_spec: SoftmaxSpec): string {
  return /* wgsl */ `
// groups is 16 = sqrt(256), for workgroupReduce (see UNROLL_NOTE in wgsl-common.ts).
struct Params { rows: u32, n: u32, groups: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // [rows, n]
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // [rows, n]
var<workgroup> red: array<f32, 256>;
${workgroupPerRowMain(256, `
  let base = row * p.n;
  var mx = ${NEG_BIG};
  for (var c = lid; c < p.n; c = c + 256u) { mx = max(mx, x[base + c]); }
  red[lid] = mx;
  workgroupBarrier();
  ${workgroupReduce('red', 'lid', 256, 'p.groups', 'rowMax', (a, b) => `max(${a}, ${b})`)}
  workgroupBarrier();
  var sum = 0.0;
  for (var c = lid; c < p.n; c = c + 256u) {
    let e = exp(x[base + c] - rowMax);
    out[base + c] = e;
    sum = sum + e;
  }
  red[lid] = sum;
  workgroupBarrier();
  ${workgroupReduce('red', 'lid', 256, 'p.groups', 'rowSum', (a, b) => `${a} + ${b}`)}
  let inv = 1.0 / rowSum;
  // Each invocation rescales the entries it wrote itself, so no barrier is needed on out.
  for (var c = lid; c < p.n; c = c + 256u) { out[base + c] = out[base + c] * inv; }
`)}
`;
}

export const softmaxKernel = defineKernel<SoftmaxSpec>('softmax', renderSoftmax);
