// WGSL of landmark scoring, two of its three passes (the middle one is the row softmax):
// dots: scores[h, c] = q[h] · landmarks[g(h), c] * scale; groupMax: out[g, c] = max over the heads of group g.
import { defineKernel } from '../kernel-def.js';
import { linearMain } from '../wgsl-common.js';

export type LandmarkDotsSpec = Record<string, never>;
export type LandmarkGroupMaxSpec = Record<string, never>;

export function renderLandmarkDots(_spec: LandmarkDotsSpec): string {
  return /* wgsl */ `
struct Params { total: u32, nChunks: u32, d: u32, group: u32, scale: f32, lRow0: u32, lRows: u32, lShift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;            // [nHeads, d]
@group(0) @binding(2) var<storage, read> landmarks: array<f32>;    // rows [lRow0, lRow0 + lRows) of [nKv * nChunks, d]
@group(0) @binding(3) var<storage, read_write> scores: array<f32>; // [nHeads, nChunks]
${linearMain(`
  let c = i % p.nChunks;
  let h = i / p.nChunks;
  let qo = h * p.d;
  let row = (h / p.group) * p.nChunks + c;
  // Landmark rows outside the bound range are scored by another dispatch.
  if (row < p.lRow0 || row - p.lRow0 >= p.lRows) { return; }
  let lo = p.lShift + (row - p.lRow0) * p.d;
  var s = 0.0;
  for (var e = 0u; e < p.d; e = e + 1u) { s = s + q[qo + e] * landmarks[lo + e]; }
  scores[i] = s * p.scale;
`)}
`;
}

export function renderLandmarkGroupMax(_spec: LandmarkGroupMaxSpec): string {
  return /* wgsl */ `
struct Params { total: u32, nChunks: u32, group: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;     // [nHeads, nChunks]
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // [nKv, nChunks]
${linearMain(`
  let c = i % p.nChunks;
  let g = i / p.nChunks;
  var best = probs[(g * p.group) * p.nChunks + c];
  for (var k = 1u; k < p.group; k = k + 1u) { best = max(best, probs[(g * p.group + k) * p.nChunks + c]); }
  out[i] = best;
`)}
`;
}

export const landmarkDotsKernel = defineKernel<LandmarkDotsSpec>('landmarkDots', renderLandmarkDots);
export const landmarkGroupMaxKernel = defineKernel<LandmarkGroupMaxSpec>('landmarkGroupMax', renderLandmarkGroupMax);
