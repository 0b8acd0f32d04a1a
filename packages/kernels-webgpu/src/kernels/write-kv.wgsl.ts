// WGSL of writeKv over one bound range of cache token rows: copies rows x [m, nKvHeads*headDim] into
// cache [nKvHeads, capacity, headDim] at row `start`; an invocation writes only when its cache row
// (g * capacity + start + row) lies in the bound range [row0, row0 + rows).
import { defineKernel } from '../kernel-def.js';
import { linearMain } from '../wgsl-common.js';

/** pair: writeKvPair, k and v into their caches in one launch (both caches bound whole). */
export type WriteKvSpec = { readonly pair?: boolean };

export function renderWriteKv(spec: WriteKvSpec): string {
  if (spec.pair) {
    return /* wgsl */ `
struct Params { total: u32, nKv: u32, d: u32, cap: u32, start: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> k: array<f32>;            // [m, nKv * d]
@group(0) @binding(2) var<storage, read> v: array<f32>;            // [m, nKv * d]
@group(0) @binding(3) var<storage, read_write> kCache: array<f32>; // [nKv, cap, d]
@group(0) @binding(4) var<storage, read_write> vCache: array<f32>; // [nKv, cap, d]
${linearMain(`
  let e = i % p.d;
  let g = (i / p.d) % p.nKv;
  let row = i / (p.d * p.nKv);
  let at = (g * p.cap + p.start + row) * p.d + e;
  kCache[at] = k[i];
  vCache[at] = v[i];
`)}
`;
  }
  return /* wgsl */ `
struct Params { total: u32, nKv: u32, d: u32, cap: u32, start: u32, row0: u32, rows: u32, cacheShift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [m, nKv * d]
@group(0) @binding(2) var<storage, read_write> cache: array<f32>; // token rows [row0, row0 + rows) of [nKv * cap, d]
${linearMain(`
  let e = i % p.d;
  let g = (i / p.d) % p.nKv;
  let row = i / (p.d * p.nKv);
  let cacheRow = g * p.cap + p.start + row;
  if (cacheRow < p.row0 || cacheRow - p.row0 >= p.rows) { return; }
  cache[p.cacheShift + (cacheRow - p.row0) * p.d + e] = x[i];
`)}
`;
}

export const writeKvKernel = defineKernel<WriteKvSpec>('writeKv', renderWriteKv);
