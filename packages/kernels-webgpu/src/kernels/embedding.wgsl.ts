// WGSL of the embedding lookup over one bound row range [rowStart, rowStart+rowCount) of the table.
// A 16-bit table (f16 or bf16) is read as u32 words and widened to f32.
import { defineKernel } from '../kernel-def.js';
import { linearMain } from '../wgsl-common.js';
import { weightAt, type WeightType } from './gemv.wgsl.js';

export type EmbeddingSpec = { readonly w: WeightType };

export function renderEmbedding(spec: EmbeddingSpec): string {
  return /* wgsl */ `
struct Params { total: u32, hidden: u32, rowStart: u32, rowCount: u32, tableShift: u32, vocab: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<${spec.w === 'f32' ? 'f32' : 'u32'}>;     // table [rowCount, hidden] (this part; tableShift in its elements)
${weightAt(spec.w)}
@group(0) @binding(2) var<storage, read> ids: array<i32>;       // [m]
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [m, hidden]
${linearMain(`
  let id = ids[i / p.hidden];
  // Ids outside the vocabulary (only GPU-computed ones; uploaded ids are checked on the host) give zeros
  // (the output buffer comes from the arena, not zero-filled); rows outside this part are another dispatch's.
  if (id < 0 || u32(id) >= p.vocab) { out[i] = 0.0; return; }
  if (u32(id) < p.rowStart || u32(id) - p.rowStart >= p.rowCount) { return; }
  out[i] = wAt(p.tableShift + (u32(id) - p.rowStart) * p.hidden + i % p.hidden);
`)}
`;
}

export const embeddingKernel = defineKernel<EmbeddingSpec>('embedding', renderEmbedding);
