// Writes tensors to a .safetensors file (used by the random-model writer and by tests that need files).
import { open } from 'node:fs/promises';
import { InvalidOptionError } from '@shadowkv/core';
import { f32ToBf16, f32ToF16 } from './safetensors-dtype.js';

/** A tensor to write. Float dtypes take a Float32Array (rounded to nearest even); I32 takes an Int32Array. */
export interface SafetensorsWriteTensor {
  dtype: 'F32' | 'F16' | 'BF16' | 'I32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/**
 * Writes `tensors` in insertion order to `file`, with optional `__metadata__`. The header is padded
 * with spaces so the data section starts on an 8-byte boundary, as the reference writer does.
 */
export async function writeSafetensors(
  file: string,
  tensors: Record<string, SafetensorsWriteTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = encode(name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  const headerBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + headerBytes) % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBuf.byteLength));

  const fh = await open(file, 'w');
  try {
    await fh.write(lenBuf);
    await fh.write(headerBuf);
    for (const b of blobs) await fh.write(b);
  } finally {
    await fh.close();
  }
}

function encode(name: string, t: SafetensorsWriteTensor): Uint8Array {
  const option = `tensors.${name}`;
  if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new InvalidOptionError(option, `shape must be a list of non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  const n = t.shape.reduce((a, d) => a * d, 1);
  if (t.data.length !== n) throw new InvalidOptionError(option, `shape [${t.shape.join(', ')}] has ${n} elements but data has ${t.data.length}`);
  if (t.dtype === 'I32') {
    if (!(t.data instanceof Int32Array)) throw new InvalidOptionError(option, 'dtype I32 needs an Int32Array');
    return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  if (!(t.data instanceof Float32Array)) throw new InvalidOptionError(option, `dtype ${t.dtype} needs a Float32Array`);
  switch (t.dtype) {
    case 'F32':
      return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    case 'F16': {
      const h = f32ToF16(t.data);
      return new Uint8Array(h.buffer);
    }
    case 'BF16': {
      const h = f32ToBf16(t.data);
      return new Uint8Array(h.buffer);
    }
    default:
      throw new InvalidOptionError(option, `dtype ${String((t as { dtype: unknown }).dtype)} cannot be written; use F32, F16, BF16 or I32`);
  }
}
