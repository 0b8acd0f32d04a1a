// WGSL of decode attention, pass 2: merges the per-split (max, sum, output) partials of one
// (query row, head) with the usual log-sum-exp rescaling: out = Σ acc_s e^(m_s - M) / Σ l_s e^(m_s - M).
import { defineKernel } from '../kernel-def.js';
import { NEG_BIG, workgroupPerRowMain } from '../wgsl-common.js';

export type AttentionCombineSpec = { readonly headDim: number };

const WG = 64;

export function renderAttentionCombine(spec: AttentionCombineSpec): string {
  const d = spec.headDim;
  return /* wgsl */ `
struct Params { rows: u32, nSplits: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;  // [m * nHeads, nSplits, D + 2]
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // [m * nHeads, D]
const D = ${d}u;
${workgroupPerRowMain(WG, `
  let base = r * p.nSplits * (D + 2u);
  var mx = ${NEG_BIG};
  for (var s = 0u; s < p.nSplits; s = s + 1u) {
    let o = base + s * (D + 2u);
    if (partials[o + D + 1u] > 0.0) { mx = max(mx, partials[o + D]); }
  }
  var total = 0.0;
  for (var s = 0u; s < p.nSplits; s = s + 1u) {
    let o = base + s * (D + 2u);
    let l = partials[o + D + 1u];
    if (l > 0.0) { total = total + l * exp(partials[o + D] - mx); }
  }
  // No visible key (causal row before the cache start): the CPU reference outputs zeros.
  var inv = 0.0;
  if (total > 0.0) { inv = 1.0 / total; }
  for (var c = lid; c < D; c = c + ${WG}u) {
    var acc = 0.0;
    for (var s = 0u; s < p.nSplits; s = s + 1u) {
      let o = base + s * (D + 2u);
      if (partials[o + D + 1u] > 0.0) { acc = acc + partials[o + c] * exp(partials[o + D] - mx); }
    }
    out[r * D + c] = acc * inv;
  }
`, { row: 'r' })}
`;
}

export const attentionCombineKernel = defineKernel<AttentionCombineSpec>('attentionCombine', renderAttentionCombine);
