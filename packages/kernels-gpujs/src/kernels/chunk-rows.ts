// gpu.js statement snippets for the index math the chunk kernels share (gatherChunks, scatterChunks,
// rebuildKeys): a thread's flat index over [nKv, rowsPerHead, headDim] → (g, r, e), and row r → (chunk, j).
// Indices are floats in the GL modes: floor((x + 0.5) / n) is exact while x stays below 2^23 (GL_MAX_ELEMENTS).

/**
 * Statements declaring t (the thread index + 0.5), g (KV head), r (row within the head) and e (element
 * within the row) for an output [nKv, rowsPerHead, headDim]; `rowsPerHead` is a JS expression of the
 * kernel's arguments, and the kernel must take `headDim`.
 */
export function headRowElement(rowsPerHead: string): string {
  return `
  const t = this.thread.x + 0.5;
  const g = Math.floor(t / (${rowsPerHead} * headDim));
  const rem = t - g * ${rowsPerHead} * headDim;
  const r = Math.floor(rem / headDim);
  const e = Math.floor(rem - r * headDim);`;
}

/** Statements declaring chunk (the chunk of row r: a slot on a packed side, a chunk id on a chunked one) and j (r's row in it). */
export const CHUNK_OF_ROW = `
  const chunk = Math.floor((r + 0.5) / chunkSize);
  const j = r - chunk * chunkSize;`;
