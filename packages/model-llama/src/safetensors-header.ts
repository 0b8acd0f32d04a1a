// Reads and validates the header of one .safetensors file: an 8-byte little-endian length, a JSON
// table of {dtype, shape, data_offsets}, then a data section that the tensors must tile exactly.
import type { FileHandle } from 'node:fs/promises';
import { ModelFormatError } from '@shadowkv/core';
import { showBounded } from './bounded-json.js';
import { SAFETENSORS_DTYPE_BYTES } from './safetensors-dtype.js';
import type { TensorInfo } from './weight-source.js';

/** Largest header accepted; real headers are kilobytes, so more means a corrupt or non-safetensors file. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024 * 1024;

/** The parsed header of one file. Tensor byte offsets are absolute positions in the file. */
export interface SafetensorsHeader {
  file: string;
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
}

const REDOWNLOAD = 're-download or re-convert the file';

/** Reads exactly `length` bytes at `position` (FileHandle.read may return short counts). */
export async function readExactly(fh: FileHandle, file: string, position: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new ModelFormatError(file, undefined, `ended after ${position + done} bytes while reading ${length} bytes at offset ${position}; ${REDOWNLOAD}`);
    done += bytesRead;
  }
  return buf;
}

/** Reads the header of an open file and validates every entry against the file size. */
export async function readSafetensorsHeader(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const fileBytes = (await fh.stat()).size;
  const prefix = fileBytes < 8 ? new Uint8Array(0) : await readExactly(fh, file, 0, 8);
  const headerBytes = safetensorsHeaderLength(prefix, file, fileBytes);
  const text = new TextDecoder().decode(await readExactly(fh, file, 8, headerBytes));
  return parseSafetensorsHeader(text, file, 8 + headerBytes, fileBytes);
}

/**
 * Validates a file's first bytes (at least 8 unless the file is shorter) against its size and returns the
 * length of the JSON header that follows them. Shared by every reader (files, HTTP).
 */
export function safetensorsHeaderLength(prefix: Uint8Array, file: string, fileBytes: number): number {
  if (fileBytes < 8 || prefix.byteLength < 8) throw new ModelFormatError(file, undefined, `is ${fileBytes} bytes long, too short for a safetensors file; ${REDOWNLOAD}`);
  const headerBytes = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (headerBytes < 2 || headerBytes > MAX_SAFETENSORS_HEADER_BYTES || 8 + headerBytes > fileBytes) {
    throw new ModelFormatError(
      file,
      'header length',
      `is ${headerBytes} bytes but the file has ${fileBytes} bytes (limit ${MAX_SAFETENSORS_HEADER_BYTES}); this is not a safetensors file or it is truncated; ${REDOWNLOAD}`,
    );
  }
  return headerBytes;
}

/** Validates a header's JSON text. `dataStart` is where the data section begins, `fileBytes` the file size. */
export function parseSafetensorsHeader(text: string, file: string, dataStart: number, fileBytes: number): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(file, 'header', `is not valid JSON (${(err as Error).message}); ${REDOWNLOAD}`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelFormatError(file, 'header', `must be a JSON object of tensors; ${REDOWNLOAD}`);
  }
  const dataBytes = fileBytes - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || Object.values(entry).some((v) => typeof v !== 'string')) {
        throw new ModelFormatError(file, '__metadata__', 'must be an object of string values');
      }
      Object.assign(metadata, entry);
      continue;
    }
    const bad = (msg: string) => new ModelFormatError(file, name, `${msg}; ${REDOWNLOAD}`);
    if (typeof entry !== 'object' || entry === null) throw bad('header entry is not an object with dtype, shape and data_offsets');
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string') throw bad(`has no string "dtype" (got ${showBounded(dtype)})`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw bad(`has an invalid "shape" ${showBounded(shape)} (expected a list of non-negative integers)`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isInteger(o) || o < 0) || offsets[0] > offsets[1]) {
      throw bad(`has invalid "data_offsets" ${showBounded(offsets)} (expected [begin, end] with 0 <= begin <= end)`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataBytes) {
      throw bad(
        `data_offsets [${begin}, ${end}] run past the end of the data section (${dataBytes} bytes after the header): the file is truncated or its header is wrong`,
      );
    }
    const elemBytes = SAFETENSORS_DTYPE_BYTES[dtype];
    if (elemBytes !== undefined) {
      const want = (shape as number[]).reduce((a, d) => a * d, 1) * elemBytes;
      if (want !== end - begin) {
        throw bad(`shape [${shape.join(', ')}] of dtype ${dtype} needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
      }
    }
    ranges.push({ name, begin, end });
    tensors.push({ name, dtype, shape: shape as number[], file, byteOffset: dataStart + begin, byteLength: end - begin });
  }
  checkTiling(ranges, file, dataBytes);
  return { file, tensors, metadata, dataStart };
}

/** The format requires tensors to cover the data section with no gap or overlap. */
function checkTiling(ranges: { name: string; begin: number; end: number }[], file: string, dataBytes: number): void {
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const r of ranges) {
    if (r.begin !== pos) {
      const what = r.begin < pos ? 'overlaps the previous tensor' : `leaves a gap of ${r.begin - pos} bytes after the previous tensor`;
      throw new ModelFormatError(file, r.name, `data_offsets [${r.begin}, ${r.end}] ${what}; the header is inconsistent, ${REDOWNLOAD}`);
    }
    pos = r.end;
  }
  if (pos !== dataBytes) {
    throw new ModelFormatError(
      file,
      'data section',
      `tensors cover ${pos} bytes but ${dataBytes} bytes follow the header (${dataBytes - pos} unaccounted for); the header is inconsistent, ${REDOWNLOAD}`,
    );
  }
}
