// Minimal safetensors reader for fixture tests (F32 and I32 only): 8-byte little-endian header length,
// JSON header { name: { dtype, shape, data_offsets } }, then the raw little-endian data.
import { readFileSync } from 'node:fs';

/** One tensor read from a safetensors file. */
export interface FixtureTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Reads every F32/I32 tensor of a .safetensors file into memory (copies, so alignment never matters). */
export function readSafetensors(path: string): Map<string, FixtureTensor> {
  const file = readFileSync(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const out = new Map<string, FixtureTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = info.data_offsets;
    const bytes = new Uint8Array(file.subarray(base + start, base + end)); // copy: aligned at offset 0
    const count = info.shape.reduce((x, y) => x * y, 1);
    if (info.dtype === 'F32') out.set(name, { dtype: 'F32', shape: info.shape, data: new Float32Array(bytes.buffer, 0, count) });
    else if (info.dtype === 'I32') out.set(name, { dtype: 'I32', shape: info.shape, data: new Int32Array(bytes.buffer, 0, count) });
    else throw new Error(`${path}: tensor "${name}" has dtype ${info.dtype}; this test reader handles F32 and I32 only`);
  }
  return out;
}
