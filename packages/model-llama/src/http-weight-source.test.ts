// The HTTP weight source against the file source on the same checkpoints (a local server with Range
// support): identical tensor tables and bytes, the same model, sharded sets, unhelpful servers, damage.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError, ModelFormatError, ShadowKvError, UnsupportedModelError } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLlamaConfig } from './config.js';
import { dense } from '@shadowkv/kv-policies';
import { openHttpSafetensors, openHttpSafetensorsFile } from './http-weight-source.js';
import { LlamaModel } from './llama-model.js';
import { openSafetensors } from './safetensors.js';
import { writeSafetensors } from './safetensors-writer.js';
import { serveFolder, type RangeServer } from './test-support/range-server.js';

const FIXTURE_DIR = process.env.SHADOWKV_HF_LLAMA_DIR ?? fileURLToPath(new URL('../../../fixtures/hf-llama-gqa', import.meta.url));

let tmp: string;
const servers: RangeServer[] = [];
async function serve(dir: string, opts = {}): Promise<RangeServer> {
  const s = await serveFolder(dir, opts);
  servers.push(s);
  return s;
}
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'skv-http-weights-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(tmp, { recursive: true, force: true });
});

/** Bitwise equality of two float arrays (toEqual walks large typed arrays element by element, slowly). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  const r = await p.then(
    () => null,
    (e: unknown) => e as Error,
  );
  expect(r, 'expected a rejection').not.toBeNull();
  return r!;
}

describe('the fixture checkpoint over HTTP', () => {
  it('has the same tensor table as the file source and reads every tensor bit for bit, one range each', async () => {
    const server = await serve(FIXTURE_DIR);
    const http = await openHttpSafetensors(server.url);
    const file = await openSafetensors(FIXTURE_DIR);
    try {
      expect(http.names()).toEqual(file.names());
      expect(http.metadata).toEqual(file.metadata);
      const fileUrl = `${server.url}model.safetensors`;
      for (const name of file.names()) {
        const { file: _f, ...rest } = file.info(name);
        expect(http.info(name)).toEqual({ ...rest, file: fileUrl });
      }
      // One probe request read the whole header (it is far smaller than the probe).
      expect(server.requests).toEqual([`GET model.safetensors bytes=0-262143 → 206`]);
      for (const name of file.names()) expect(sameBits(await http.readF32(name), await file.readF32(name)), name).toBe(true);
      expect(server.requests).toHaveLength(1 + file.names().length);
      const t = http.info('model.norm.weight');
      expect(server.requests).toContain(`GET model.safetensors bytes=${t.byteOffset}-${t.byteOffset + t.byteLength - 1} → 206`);
    } finally {
      await file.close();
      await http.close();
    }
    await expect(http.readF32('model.norm.weight')).rejects.toThrow(ShadowKvError);
    expect(() => http.info('nope')).toThrow(ModelFormatError);
  });

  it('builds, through LlamaModel.fromSource, a model whose logits equal LlamaModel.load exactly', async () => {
    const server = await serve(FIXTURE_DIR);
    const backend = cpu();
    const config = await loadLlamaConfig(FIXTURE_DIR);
    const source = await openHttpSafetensors(server.url);
    const viaHttp = await LlamaModel.fromSource(server.url, config, source, { backend });
    await source.close();
    const viaFile = await LlamaModel.load(FIXTURE_DIR, { backend });
    const ids = [3, 17, 250, 9, 400, 1, 77];
    const logits = async (m: LlamaModel) => {
      const state = dense().create({ backend, model: config, rope: m.rope, maxSeqLen: ids.length });
      const t = await m.forward(ids, state, { allLogits: true });
      state.dispose();
      return backend.read(t!);
    };
    // Same bytes, same backend, same arithmetic: exact equality, no tolerance.
    expect(sameBits((await logits(viaHttp)) as Float32Array, (await logits(viaFile)) as Float32Array)).toBe(true);
    expect(viaHttp.dir).toBe(server.url);
  });
});

describe('sharded checkpoints and single files', () => {
  it('reads a sharded set through its index, shards opened in parallel', async () => {
    const dir = await mkdtemp(join(tmp, 'sharded-'));
    const a = new Float32Array([1, 2, 3, 4]);
    const b = new Float32Array([5, 6]);
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), { a: { dtype: 'F32', shape: [2, 2], data: a } }, { format: 'pt' });
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), { b: { dtype: 'F16', shape: [2], data: b } });
    const weightMap = { b: 'model-00002-of-00002.safetensors', a: 'model-00001-of-00002.safetensors' };
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 20 }, weight_map: weightMap }));
    const server = await serve(dir);
    const src = await openHttpSafetensors(server.url.slice(0, -1)); // no trailing slash: still a folder
    expect(src.names()).toEqual(['b', 'a']);
    expect(src.info('b').file).toBe(`${server.url}model-00002-of-00002.safetensors`);
    expect(await src.readF32('a')).toEqual(a);
    expect(await src.readF32('b')).toEqual(b);
    expect(src.metadata).toEqual({ format: 'pt' });
    expect(server.requests[0]).toBe('GET model.safetensors bytes=0-262143 → 404');

    // The index's mistakes are reported as for local files.
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, c: 'model-00003-of-00003.safetensors' } }));
    expect((await errorOf(openHttpSafetensors(server.url))).message).toMatch(/"model-00003-of-00003\.safetensors".*does not exist \(HTTP 404\)/);
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, c: 'model-00001-of-00002.safetensors' } }));
    expect((await errorOf(openHttpSafetensors(server.url))).message).toMatch(/tensor "c" is in "model-00001-of-00002\.safetensors"/);
    for (const shard of ['../x.safetensors', '..\\x.safetensors']) {
      await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: shard } }));
      const e = await errorOf(openHttpSafetensors(server.url));
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(/weight_map.*expected a \.safetensors file name in the same directory/);
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), '{"weight_map": ');
    expect((await errorOf(openHttpSafetensors(server.url))).message).toMatch(/index\.json.*not readable JSON/);
  });

  it('says what is missing when the folder has no weights', async () => {
    const server = await serve(await mkdtemp(join(tmp, 'empty-')));
    const e = await errorOf(openHttpSafetensors(server.url));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/model\.safetensors\.index\.json: does not exist and neither does .*model\.safetensors \(HTTP 404\)/);
  });

  it('opens a single file by URL and rejects non-float reads and relative URLs outside a page', async () => {
    const dir = await mkdtemp(join(tmp, 'single-'));
    await writeSafetensors(join(dir, 'w.safetensors'), { ids: { dtype: 'I32', shape: [3], data: new Int32Array([1, 2, 3]) } });
    const server = await serve(dir);
    const src = await openHttpSafetensorsFile(`${server.url}w.safetensors`);
    expect(src.names()).toEqual(['ids']);
    await expect(src.readF32('ids')).rejects.toThrow(UnsupportedModelError);
    expect(server.requests).toHaveLength(1); // refused before any byte was fetched
    await expect(openHttpSafetensors('models/tiny')).rejects.toThrow(InvalidOptionError);
  });
});

describe('servers that do not help', () => {
  it('works when the server ignores Range (one download, later reads slice it)', async () => {
    const server = await serve(FIXTURE_DIR, { ignoreRange: true });
    const src = await openHttpSafetensors(server.url);
    const file = await openSafetensors(FIXTURE_DIR);
    for (const name of ['model.embed_tokens.weight', 'model.layers.3.mlp.down_proj.weight']) expect(sameBits(await src.readF32(name), await file.readF32(name)), name).toBe(true);
    await file.close();
    expect(server.requests).toEqual(['GET model.safetensors bytes=0-262143 → 200']);
  });

  it('learns the size from HEAD when Content-Range is not readable, and fetches a long header in a second range', async () => {
    const dir = await mkdtemp(join(tmp, 'longheader-'));
    // Metadata of 300 KiB pushes the header past the 256 KiB probe.
    await writeSafetensors(join(dir, 'model.safetensors'), { x: { dtype: 'BF16', shape: [3], data: new Float32Array([1, -2, 0.5]) } }, { pad: 'p'.repeat(300 * 1024) });
    const size = (await readFile(join(dir, 'model.safetensors'))).byteLength;
    const server = await serve(dir, { hideContentRange: true });
    const src = await openHttpSafetensors(server.url);
    expect(await src.readF32('x')).toEqual(new Float32Array([1, -2, 0.5]));
    expect(server.requests.slice(0, 3)).toEqual([
      'GET model.safetensors bytes=0-262143 → 206',
      'HEAD model.safetensors - → 200',
      `GET model.safetensors bytes=262144-${src.info('x').byteOffset - 1} → 206`,
    ]);
    expect(size).toBe(src.info('x').byteOffset + 6);
  });

  it('reports a truncated file with the header check the file source uses', async () => {
    const dir = await mkdtemp(join(tmp, 'trunc-'));
    await writeSafetensors(join(dir, 'full.safetensors'), { first: { dtype: 'F32', shape: [4], data: new Float32Array(4) }, second: { dtype: 'F32', shape: [8], data: new Float32Array(8) } });
    const bytes = await readFile(join(dir, 'full.safetensors'));
    await writeFile(join(dir, 'model.safetensors'), bytes.subarray(0, bytes.byteLength - 10));
    await writeFile(join(dir, 'tiny.safetensors'), bytes.subarray(0, 5));
    const server = await serve(dir);
    const e = await errorOf(openHttpSafetensors(server.url));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/model\.safetensors \(field "second"\).*run past the end.*truncated/);
    expect((await errorOf(openHttpSafetensorsFile(`${server.url}tiny.safetensors`))).message).toMatch(/is 5 bytes long, too short/);
    expect((await errorOf(openHttpSafetensorsFile(`${server.url}absent.safetensors`))).message).toMatch(/HTTP 404/);
  });
});
