// Test-only reader of golden safetensors dumps (F32 and I32 tensors, whole file in memory: goldens are small).
import { readFileSync } from 'node:fs';

export function readGoldenTensors(file: string): Map<string, { shape: number[]; data: Float32Array | Int32Array }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + n;
  const out = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(base + e.data_offsets[0], base + e.data_offsets[1]);
    const copy = new Uint8Array(bytes).buffer;
    if (e.dtype === 'F32') out.set(name, { shape: e.shape, data: new Float32Array(copy) });
    else if (e.dtype === 'I32') out.set(name, { shape: e.shape, data: new Int32Array(copy) });
    else throw new Error(`${file}: golden tensor ${name} has dtype ${e.dtype}; only F32 and I32 are expected`);
  }
  return out;
}

/** max |a - b| / max |b|: error relative to the tensor's scale (robust to near-zero entries). */
export function relMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / (scale || 1);
}
