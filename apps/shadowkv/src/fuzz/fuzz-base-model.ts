// The seed model of the fuzz harness: a tiny random Llama with the BPE fixture tokenizer and its chat template,
// written once per run in two layouts (one model.safetensors; two shards with model.safetensors.index.json).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeRandomLlama } from '@shadowkv/model-llama';

/** Every file of a model folder, by name. */
export type ModelFiles = Record<string, Uint8Array>;

export const FIXTURE_TOKENIZER_DIR = fileURLToPath(new URL('../../../../fixtures/tokenizer-bpe', import.meta.url));

/** Small enough that a load plus two decode steps takes milliseconds. */
const CONFIG = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16, max_position_embeddings: 512 };

/** Writes the single-file seed model into `dir` and returns both layouts' files (read back into memory). */
export async function buildBaseModels(dir: string): Promise<{ single: ModelFiles; sharded: ModelFiles }> {
  await writeRandomLlama(dir, { seed: 14, config: CONFIG, tokenizerFrom: FIXTURE_TOKENIZER_DIR });
  const single: ModelFiles = {};
  for (const name of await readdir(dir)) single[name] = new Uint8Array(await readFile(join(dir, name)));
  const sharded: ModelFiles = { ...single };
  delete sharded['model.safetensors'];
  Object.assign(sharded, splitIntoShards(single['model.safetensors']));
  return { single, sharded };
}

/** Splits a safetensors file into two shards (first half of the tensors, the rest) plus the index. */
function splitIntoShards(file: Uint8Array): ModelFiles {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLen))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = file.subarray(8 + headerLen);
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  const parts = [names.slice(0, names.length >> 1), names.slice(names.length >> 1)];
  const out: ModelFiles = {};
  const weightMap: Record<string, string> = {};
  parts.forEach((part, i) => {
    const shardName = `model-0000${i + 1}-of-00002.safetensors`;
    const h: Record<string, unknown> = {};
    const blobs: Uint8Array[] = [];
    let off = 0;
    for (const n of part) {
      const { dtype, shape, data_offsets: [b, e] } = header[n];
      h[n] = { dtype, shape, data_offsets: [off, off + e - b] };
      blobs.push(data.subarray(b, e));
      off += e - b;
      weightMap[n] = shardName;
    }
    out[shardName] = assembleSafetensors(JSON.stringify(h), blobs);
  });
  out['model.safetensors.index.json'] = new TextEncoder().encode(JSON.stringify({ metadata: { total_size: data.byteLength }, weight_map: weightMap }, null, 1));
  return out;
}

/** An 8-byte length, the header text padded to 8 bytes, then the data. */
export function assembleSafetensors(headerText: string, blobs: Uint8Array[]): Uint8Array {
  let text = headerText;
  const len = new TextEncoder().encode(text).byteLength;
  text += ' '.repeat((8 - ((8 + len) % 8)) % 8);
  const head = new TextEncoder().encode(text);
  const total = 8 + head.byteLength + blobs.reduce((a, b) => a + b.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let pos = 8 + head.byteLength;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}

/** Writes a model folder's files into `dir` (which must exist and be empty). */
export async function writeModelFiles(dir: string, files: ModelFiles): Promise<void> {
  await Promise.all(Object.entries(files).map(([name, bytes]) => writeFile(join(dir, name), bytes)));
}
