// WGSL of gatherChunks and scatterChunks: both copy whole chunks between a packed tensor
// [nKv, nSel*chunkSize, d] and a chunked one [nKv, rows, d], gather from chunked to packed, scatter back.
// One invocation per element of a bound range of packed token rows; it touches the chunked side only when
// its chunked row lies in the bound chunked range, so every pair of parts together covers the packed side
// once. Scatter writes no element twice because the chunk ids of one head are distinct.
import { defineKernel } from '../kernel-def.js';
import { linearMain, SELECTED_CHUNK } from '../wgsl-common.js';

export type ChunkCopySpec = { readonly op: 'gatherChunks' | 'scatterChunks' };

/**
 * chunkRow maps a packed token row to its row g*rows + c*chunkSize + j of the chunked side, or to NO_ROW
 * when chunk c is not a whole chunk of `rows` (see SELECTED_CHUNK).
 */
const CHUNK_ROW = `${SELECTED_CHUNK}
const NO_ROW = 0xffffffffu;
fn chunkRow(packedRow: u32) -> u32 {
  let sel = selectedChunk(packedRow);
  if (sel.c < 0 || (u32(sel.c) + 1u) * p.chunkSize > p.rows) { return NO_ROW; }
  return sel.g * p.rows + u32(sel.c) * p.chunkSize + sel.j;
}`;

export function renderChunkCopy(spec: ChunkCopySpec): string {
  const gather = spec.op === 'gatherChunks';
  const [srcSide, dstSide] = gather ? ['chunked', 'packed'] : ['packed', 'chunked'];
  return /* wgsl */ `
struct Params {
  total: u32, rows: u32, d: u32, nSel: u32, chunkSize: u32,
  packedRow0: u32, packedShift: u32, chunkedRow0: u32, chunkedRows: u32, chunkedShift: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
// packed: token rows from packedRow0 of [nKv * nSel * chunkSize, d];
// chunked: token rows [chunkedRow0, chunkedRow0 + chunkedRows) of [nKv * rows, d].
@group(0) @binding(1) var<storage, read> src: array<f32>;       // ${srcSide}
@group(0) @binding(2) var<storage, read> idx: array<i32>;       // [nKv, nSel]
@group(0) @binding(3) var<storage, read_write> dst: array<f32>; // ${dstSide}
${CHUNK_ROW}
${linearMain(`
  let packed = p.packedShift + i;
  let row = chunkRow(p.packedRow0 + i / p.d);
  // An out-of-range chunk id ${gather ? 'gathers zeros' : 'writes nothing'}.
  if (row == NO_ROW) { ${gather ? 'dst[packed] = 0.0; ' : ''}return; }
  if (row < p.chunkedRow0 || row - p.chunkedRow0 >= p.chunkedRows) { return; }
  let chunked = p.chunkedShift + (row - p.chunkedRow0) * p.d + i % p.d;
  ${gather ? 'dst[packed] = src[chunked];' : 'dst[chunked] = src[packed];'}
`)}
`;
}

export const chunkCopyKernel = defineKernel<ChunkCopySpec>('chunkCopy', renderChunkCopy);
