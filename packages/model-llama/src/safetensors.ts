// Opens a Hugging Face safetensors checkpoint (one file or a sharded set with an index) as a WeightSource
// that reads each tensor's own byte range on demand, so multi-gigabyte files are never read whole.
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelFormatError } from '@shadowkv/core';
import { readExactly, readSafetensorsHeader } from './safetensors-header.js';
import { SAFETENSORS_INDEX_FILE, SAFETENSORS_SINGLE_FILE, parseWeightMap, tensorsFromShards } from './safetensors-index.js';
import { TensorTableSource } from './tensor-table-source.js';
import type { TensorInfo } from './weight-source.js';

/** A WeightSource over safetensors files, with raw and integer reads besides readF32. */
export class SafetensorsSource extends TensorTableSource {
  private constructor(dir: string, tensors: Map<string, TensorInfo>, private readonly handles: Map<string, FileHandle>, metadata: Record<string, string>) {
    super(dir, tensors, metadata, 'the model directory');
  }

  /** @internal Builds a source from already-validated headers; use openSafetensors. */
  static fromParts(dir: string, tensors: Map<string, TensorInfo>, handles: Map<string, FileHandle>, metadata: Record<string, string>): SafetensorsSource {
    return new SafetensorsSource(dir, tensors, handles, metadata);
  }

  protected readRange(t: TensorInfo): Promise<Uint8Array> {
    return readExactly(this.handles.get(t.file)!, t.file, t.byteOffset, t.byteLength);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.handles.values()].map((fh) => fh.close()));
  }
}

const SINGLE = SAFETENSORS_SINGLE_FILE;
const INDEX = SAFETENSORS_INDEX_FILE;

/** Opens one .safetensors file (any name) and validates its header. */
export async function openSafetensorsFile(file: string): Promise<SafetensorsSource> {
  return openSingle(file, file);
}

async function openSingle(file: string, dir: string): Promise<SafetensorsSource> {
  const handles = new Map<string, FileHandle>();
  try {
    const tensors = new Map<string, TensorInfo>();
    const metadata = await openShard(file, handles, tensors);
    return SafetensorsSource.fromParts(dir, tensors, handles, metadata);
  } catch (err) {
    await closeAll(handles);
    throw err;
  }
}

/**
 * Opens DIR/model.safetensors, or the shards listed in DIR/model.safetensors.index.json. Every file's
 * header is validated up front (truncation, inconsistent offsets, shape/size mismatches).
 */
export async function openSafetensors(dir: string): Promise<SafetensorsSource> {
  if (await isFile(join(dir, SINGLE))) return openSingle(join(dir, SINGLE), dir);
  const indexFile = join(dir, INDEX);
  if (!(await isFile(indexFile))) {
    throw new ModelFormatError(
      dir,
      undefined,
      `has neither ${SINGLE} nor ${INDEX}; shadowkv reads Hugging Face safetensors checkpoints (convert .bin or .gguf weights to safetensors first)`,
    );
  }
  const weightMap = await readWeightMap(indexFile);
  const handles = new Map<string, FileHandle>();
  try {
    const metadata: Record<string, string> = {};
    const shardTensors = new Map<string, Map<string, TensorInfo>>();
    for (const shard of new Set(weightMap.values())) {
      const path = join(dir, shard);
      if (!(await isFile(path))) {
        throw new ModelFormatError(indexFile, 'weight_map', `lists shard "${shard}" but ${path} does not exist; download every shard of the checkpoint`);
      }
      const own = new Map<string, TensorInfo>();
      Object.assign(metadata, await openShard(path, handles, own));
      shardTensors.set(shard, own);
    }
    return SafetensorsSource.fromParts(dir, tensorsFromShards(indexFile, weightMap, shardTensors), handles, metadata);
  } catch (err) {
    await closeAll(handles);
    throw err;
  }
}

async function openShard(file: string, handles: Map<string, FileHandle>, into: Map<string, TensorInfo>): Promise<Record<string, string>> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new ModelFormatError(file, undefined, `cannot be opened (${(err as Error).message})`, { cause: err });
  }
  handles.set(file, fh);
  const header = await readSafetensorsHeader(fh, file);
  for (const t of header.tensors) into.set(t.name, t);
  return header.metadata;
}

async function readWeightMap(indexFile: string): Promise<Map<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexFile, 'utf8'));
  } catch (err) {
    throw new ModelFormatError(indexFile, undefined, `is not readable JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseWeightMap(json, indexFile);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function closeAll(handles: Map<string, FileHandle>): Promise<void> {
  await Promise.all([...handles.values()].map((fh) => fh.close().catch(() => undefined)));
}
