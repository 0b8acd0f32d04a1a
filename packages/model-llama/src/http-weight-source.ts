// A WeightSource over HTTP: a safetensors checkpoint (one file or a sharded set with an index) at a URL,
// read one tensor's byte range per request, so a page never downloads a multi-gigabyte file at once.
// Header validation, the weight map and dtype widening are the same code the file source uses.
import { ModelFormatError } from '@shadowkv/core';
import { HttpFile, type HttpFetchOptions } from './http-file.js';
import { modelUrl } from './model-url.js';
import { parseSafetensorsHeader, safetensorsHeaderLength, type SafetensorsHeader } from './safetensors-header.js';
import { SAFETENSORS_INDEX_FILE, SAFETENSORS_SINGLE_FILE, parseWeightMap, tensorsFromShards } from './safetensors-index.js';
import { TensorTableSource } from './tensor-table-source.js';
import type { TensorInfo } from './weight-source.js';

export type { HttpFetchOptions } from './http-file.js';

/** Bytes asked for in the first request of each file: headers are kilobytes, so usually one request gets all. */
const PROBE_BYTES = 256 * 1024;

/** A WeightSource over safetensors files on an HTTP server (TensorInfo.file is the file's absolute URL). */
export class HttpWeightSource extends TensorTableSource {
  private constructor(dir: string, tensors: Map<string, TensorInfo>, private readonly files: Map<string, HttpFile>, metadata: Record<string, string>) {
    super(dir, tensors, metadata, 'the model URL');
  }

  /** @internal Builds a source from validated headers; use openHttpSafetensors. */
  static fromParts(dir: string, tensors: Map<string, TensorInfo>, files: Map<string, HttpFile>, metadata: Record<string, string>): HttpWeightSource {
    return new HttpWeightSource(dir, tensors, files, metadata);
  }

  /** One Range request. */
  protected readRange(t: TensorInfo): Promise<Uint8Array> {
    return this.files.get(t.file)!.read(t.byteOffset, t.byteLength);
  }

  /** Nothing stays open between requests; later reads fail. */
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Opens one .safetensors file at `url` and validates its header. */
export async function openHttpSafetensorsFile(url: string, opts: HttpFetchOptions = {}): Promise<HttpWeightSource> {
  const { header, file } = (await openRemoteShard(url, opts, false))!;
  return HttpWeightSource.fromParts(url, new Map(header.tensors.map((t) => [t.name, t])), new Map([[url, file]]), header.metadata);
}

/**
 * Opens DIR/model.safetensors, or the shards listed in DIR/model.safetensors.index.json, where DIR is a URL
 * (absolute, or relative to the page). Every file's header is validated up front, as for local files.
 */
export async function openHttpSafetensors(dir: string, opts: HttpFetchOptions = {}): Promise<HttpWeightSource> {
  const singleUrl = modelUrl(dir, SAFETENSORS_SINGLE_FILE);
  const single = await openRemoteShard(singleUrl, opts, true);
  if (single) {
    return HttpWeightSource.fromParts(dir, new Map(single.header.tensors.map((t) => [t.name, t])), new Map([[singleUrl, single.file]]), single.header.metadata);
  }
  const indexUrl = modelUrl(dir, SAFETENSORS_INDEX_FILE);
  const weightMap = parseWeightMap(await fetchIndex(indexUrl, singleUrl, opts), indexUrl);
  const shards = [...new Set(weightMap.values())];
  const opened = await Promise.all(
    shards.map(async (shard) => {
      const url = modelUrl(dir, shard);
      const r = await openRemoteShard(url, opts, true);
      if (!r) throw new ModelFormatError(indexUrl, 'weight_map', `lists shard "${shard}" but ${url} does not exist (HTTP 404); upload every shard of the checkpoint`);
      return { shard, url, ...r };
    }),
  );
  const metadata: Record<string, string> = {};
  const shardTensors = new Map<string, Map<string, TensorInfo>>();
  const files = new Map<string, HttpFile>();
  for (const o of opened) {
    Object.assign(metadata, o.header.metadata);
    shardTensors.set(o.shard, new Map(o.header.tensors.map((t) => [t.name, t])));
    files.set(o.url, o.file);
  }
  return HttpWeightSource.fromParts(dir, tensorsFromShards(indexUrl, weightMap, shardTensors), files, metadata);
}

/** Opens a file and reads its header (one request, two when the header is longer than the probe). */
async function openRemoteShard(url: string, opts: HttpFetchOptions, allowMissing: boolean): Promise<{ header: SafetensorsHeader; file: HttpFile } | null> {
  const opened = await HttpFile.open(url, PROBE_BYTES, opts, allowMissing);
  if (!opened) return null;
  const { file, head } = opened;
  const headerBytes = safetensorsHeaderLength(head.subarray(0, 8), url, file.size);
  let json = head.subarray(8, 8 + headerBytes);
  if (json.byteLength < headerBytes) {
    const rest = await file.read(head.byteLength, 8 + headerBytes - head.byteLength);
    const all = new Uint8Array(headerBytes);
    all.set(json);
    all.set(rest, json.byteLength);
    json = all;
  }
  return { header: parseSafetensorsHeader(new TextDecoder().decode(json), url, 8 + headerBytes, file.size), file };
}

async function fetchIndex(indexUrl: string, singleUrl: string, opts: HttpFetchOptions): Promise<unknown> {
  let res: Response;
  try {
    res = await (opts.fetch ?? globalThis.fetch)(indexUrl, opts.init);
  } catch (err) {
    throw new ModelFormatError(indexUrl, undefined, `cannot be fetched (${(err as Error).message}); check the URL and that the server is up`, { cause: err });
  }
  if (res.status === 404) {
    throw new ModelFormatError(
      indexUrl,
      undefined,
      `does not exist and neither does ${singleUrl} (HTTP 404); point at a folder with a Hugging Face safetensors checkpoint (convert .bin or .gguf weights to safetensors first)`,
    );
  }
  if (!res.ok) throw new ModelFormatError(indexUrl, undefined, `the server answered HTTP ${res.status}; check the URL`);
  try {
    return JSON.parse(await res.text());
  } catch (err) {
    throw new ModelFormatError(indexUrl, undefined, `is not readable JSON: ${(err as Error).message}`, { cause: err });
  }
}
