// WGSL of the elementwise binary ops (add, swiglu) over one flat part of their operands.
import { defineKernel } from '../kernel-def.js';
import { linearMain } from '../wgsl-common.js';

export type ElementwiseSpec = { readonly op: 'add' | 'swiglu' };

const EXPR: Record<ElementwiseSpec['op'], string> = {
  add: 'x + y',
  // silu(x) * y; for x < -88 exp(-x) overflows to inf and x / inf = -0, which is the limit.
  swiglu: '(x / (1.0 + exp(-x))) * y',
};

export function renderElementwise(spec: ElementwiseSpec): string {
  return /* wgsl */ `
struct Params { n: u32, shift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${linearMain(`
  let x = a[p.shift + i];
  let y = b[p.shift + i];
  out[p.shift + i] = ${EXPR[spec.op]};
`, { count: 'p.n' })}
`;
}

export const elementwiseKernel = defineKernel<ElementwiseSpec>('elementwise', renderElementwise);
