// Safetensors reading and writing: the fixture checkpoint, dtype round trips, sharded checkpoints, and
// every kind of damaged file (truncated, lying header, missing shard or tensor, unsupported dtype).
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLlamaConfig } from './config.js';
import { openSafetensors, openSafetensorsFile } from './safetensors.js';
import { writeSafetensors } from './safetensors-writer.js';
import { validateLlamaWeights } from './weight-source-validate.js';

const FIXTURE_DIR = process.env.SHADOWKV_HF_LLAMA_DIR ?? fileURLToPath(new URL('../../../fixtures/hf-llama-gqa', import.meta.url));

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'skv-safetensors-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A safetensors file from a header object and raw data bytes, written without the code under test. */
async function rawFile(name: string, header: unknown, data: Uint8Array): Promise<string> {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = join(tmp, name);
  await writeFile(file, Buffer.concat([len, json, data]));
  return file;
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  const r = await p.then(
    () => null,
    (e: unknown) => e as Error,
  );
  expect(r, 'expected a rejection').not.toBeNull();
  return r!;
}

describe('the fixture checkpoint', () => {
  it('validates against its config and reads BF16 tensors exactly (decoded independently here)', async () => {
    const cfg = await loadLlamaConfig(FIXTURE_DIR);
    const src = await openSafetensors(FIXTURE_DIR);
    try {
      validateLlamaWeights(src, cfg);
      expect(src.names()).toHaveLength(2 + 9 * cfg.nLayers + (cfg.tieWordEmbeddings ? 0 : 1));
      // Independent decode: whole file, hand-parsed header, bf16 bits shifted into a float32.
      const whole = await readFile(join(FIXTURE_DIR, 'model.safetensors'));
      const headerLen = Number(whole.readBigUInt64LE(0));
      const header = JSON.parse(whole.subarray(8, 8 + headerLen).toString()) as Record<string, { dtype: string; data_offsets: [number, number] }>;
      for (const name of ['model.layers.0.self_attn.k_proj.weight', 'model.norm.weight', 'model.embed_tokens.weight']) {
        const info = src.info(name);
        const [b, e] = header[name].data_offsets;
        expect(info.byteOffset).toBe(8 + headerLen + b);
        expect(info.byteLength).toBe(e - b);
        const got = await src.readF32(name);
        expect(got.length).toBe(info.shape.reduce((a, d) => a * d, 1));
        const want = new Float32Array(got.length);
        const dv = new DataView(new Uint32Array(1).buffer);
        for (let i = 0; i < got.length; i++) {
          dv.setUint32(0, whole.readUInt16LE(8 + headerLen + b + 2 * i) << 16, true);
          want[i] = dv.getFloat32(0, true);
        }
        // Compared bitwise in a loop: toEqual on 100k-element arrays costs about a second.
        const gotBits = new Uint32Array(got.buffer, got.byteOffset, got.length);
        const wantBits = new Uint32Array(want.buffer);
        let mismatches = 0;
        for (let i = 0; i < got.length; i++) if (gotBits[i] !== wantBits[i]) mismatches++;
        expect(mismatches, name).toBe(0);
      }
    } finally {
      await src.close();
    }
  });

  it('reads I32 tensors from golden.safetensors', async () => {
    const g = await openSafetensorsFile(join(FIXTURE_DIR, 'golden.safetensors'));
    try {
      const name = g.names().find((n) => n.startsWith('input_ids_'))!;
      const ids = await g.readI32(name);
      expect(ids.length).toBe(g.info(name).shape[0]);
      expect(Math.min(...ids)).toBeGreaterThanOrEqual(0);
      await expect(g.readF32(name)).rejects.toThrow(UnsupportedModelError);
    } finally {
      await g.close();
    }
  });

  it('throws ModelFormatError naming a missing tensor', async () => {
    const src = await openSafetensors(FIXTURE_DIR);
    expect(src.has('model.layers.99.mlp.up_proj.weight')).toBe(false);
    expect(() => src.info('model.layers.99.mlp.up_proj.weight')).toThrow(/model\.layers\.99\.mlp\.up_proj\.weight/);
    expect(() => src.info('nope')).toThrow(ModelFormatError);
    await src.close();
    await expect(src.readF32(src.names()[0])).rejects.toThrow(/closed/);
  });
});

describe('writeSafetensors round trips', () => {
  it('F32 and I32 exactly, header aligned to 8 bytes, metadata kept', async () => {
    const f32 = new Float32Array([0, -0, 1.5, -3.25e-30, 3.4e38, Infinity, NaN, 1 / 3]);
    const i32 = new Int32Array([0, -1, 2147483647, -2147483648, 42]);
    const file = join(tmp, 'rt32.safetensors');
    await writeSafetensors(file, { a: { dtype: 'F32', shape: [2, 4], data: f32 }, ids: { dtype: 'I32', shape: [5], data: i32 } }, { format: 'pt' });
    const bytes = await readFile(file);
    expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0);
    const src = await openSafetensorsFile(file);
    expect(src.metadata).toEqual({ format: 'pt' });
    expect(src.info('a')).toMatchObject({ dtype: 'F32', shape: [2, 4], byteLength: 32 });
    expect(await src.readF32('a')).toEqual(f32);
    expect(await src.readI32('ids')).toEqual(i32);
    await src.close();
  });

  it('F16 rounds to nearest even with overflow to Infinity and subnormals (expected values from numpy float16)', async () => {
    const input = [0, -0, 1, -2.5, 1 / 3, 65504, 70000, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 1e-8, Infinity, -Infinity, NaN, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 6.1e-5, -123.456];
    const want = [0, -0, 1, -2.5, 0.333251953125, 65504, Infinity, Infinity, 5.960464477539063e-8, 0, 1.1920928955078125e-7, 0, Infinity, -Infinity, NaN, 1, 1.001953125, 6.097555160522461e-5, -123.4375];
    const file = join(tmp, 'rt16.safetensors');
    await writeSafetensors(file, { h: { dtype: 'F16', shape: [input.length], data: new Float32Array(input) } });
    const src = await openSafetensorsFile(file);
    expect(src.info('h').byteLength).toBe(2 * input.length);
    expect(Array.from(await src.readF32('h'))).toEqual(want);
    await src.close();
  });

  it('BF16 rounds to nearest even (values worked out by hand from the bit patterns)', async () => {
    const input = [1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 / 3, -2.5, 3.4028234663852886e38, 1e-40, NaN, -Infinity];
    // 1+2^-8 ties to even (1); 1+3·2^-8 ties up to 1+2^-6; 1/3 = 0x3EAAAAAB → 0x3EAB; FLT_MAX rounds up to
    // Infinity; 1e-40 = 0x000116C2 → 0x0001 = 2^-133.
    const want = [1, 1, 1.015625, 0.333984375, -2.5, Infinity, 2 ** -133, NaN, -Infinity];
    const file = join(tmp, 'rtbf16.safetensors');
    await writeSafetensors(file, { b: { dtype: 'BF16', shape: [input.length], data: new Float32Array(input) } });
    const src = await openSafetensorsFile(file);
    expect(Array.from(await src.readF32('b'))).toEqual(want);
    await src.close();
  });

  it('rejects data that does not match the shape', async () => {
    await expect(writeSafetensors(join(tmp, 'bad.safetensors'), { x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).rejects.toThrow(
      /tensors\.x.*3 elements but data has 2/,
    );
  });
});

describe('sharded checkpoints', () => {
  it('reads tensors across shards through the index', async () => {
    const dir = await mkdtemp(join(tmp, 'sharded-'));
    const a = new Float32Array([1, 2, 3, 4]);
    const b = new Float32Array([5, 6]);
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), { a: { dtype: 'F32', shape: [2, 2], data: a } });
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), { b: { dtype: 'BF16', shape: [2], data: b } });
    const index = { metadata: { total_size: 20 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } };
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    const src = await openSafetensors(dir);
    expect(src.names().sort()).toEqual(['a', 'b']);
    expect(src.info('b').file).toBe(join(dir, 'model-00002-of-00002.safetensors'));
    expect(await src.readF32('a')).toEqual(a);
    expect(await src.readF32('b')).toEqual(b);
    await src.close();

    // A shard the index lists but that is not on disk.
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, c: 'model-00003-of-00003.safetensors' } }));
    const e1 = await errorOf(openSafetensors(dir));
    expect(e1).toBeInstanceOf(ModelFormatError);
    expect(e1.message).toMatch(/model\.safetensors\.index\.json.*"model-00003-of-00003\.safetensors".*does not exist/);

    // The index places a tensor in a shard that lacks it.
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, c: 'model-00001-of-00002.safetensors' } }));
    expect((await errorOf(openSafetensors(dir))).message).toMatch(/tensor "c" is in "model-00001-of-00002\.safetensors"/);

    // Shard names may not leave the directory.
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../x.safetensors' } }));
    expect((await errorOf(openSafetensors(dir))).message).toMatch(/weight_map.*"\.\.\/x\.safetensors"/);
  });

  it('says what is missing when a directory has no weights', async () => {
    const dir = await mkdtemp(join(tmp, 'empty-'));
    const e = await errorOf(openSafetensors(dir));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/neither model\.safetensors nor model\.safetensors\.index\.json/);
  });
});

describe('damaged files', () => {
  const f32Bytes = (n: number) => new Uint8Array(new Float32Array(n).fill(1).buffer);

  it('detects a truncated file and names the tensor', async () => {
    const file = join(tmp, 'trunc.safetensors');
    await writeSafetensors(file, { first: { dtype: 'F32', shape: [4], data: new Float32Array(4) }, second: { dtype: 'F32', shape: [8], data: new Float32Array(8) } });
    const { size } = await (await open(file)).stat();
    await truncate(file, size - 10);
    const e = await errorOf(openSafetensorsFile(file));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/"second".*run past the end.*truncated/);
  });

  it('detects a header longer than the file or unreasonably large', async () => {
    const file = join(tmp, 'hlen.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(1000n);
    await writeFile(file, Buffer.concat([len, Buffer.from('{}')]));
    expect((await errorOf(openSafetensorsFile(file))).message).toMatch(/header length.*1000 bytes but the file has 10 bytes/);
    len.writeBigUInt64LE(2n ** 40n);
    await writeFile(file, len);
    expect((await errorOf(openSafetensorsFile(file))).message).toMatch(/header length/);
    await writeFile(file, Buffer.from([1, 2, 3]));
    expect((await errorOf(openSafetensorsFile(file))).message).toMatch(/too short/);
  });

  it('detects a header that is not JSON', async () => {
    const file = join(tmp, 'notjson.safetensors');
    await writeFile(file, Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":')]));
    const e = await errorOf(openSafetensorsFile(file));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/field "header".*not valid JSON/);
  });

  it('detects lying headers: offsets past the end, shape/bytes mismatch, overlap, gap, bad entries', async () => {
    const data = f32Bytes(4); // 16 bytes
    const cases: [string, unknown, RegExp][] = [
      ['past-end', { x: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, /"x".*\[0, 32\] run past the end.*16 bytes/],
      ['mismatch', { x: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, /"x".*shape \[3\] of dtype F32 needs 12 bytes but data_offsets \[0, 16\] span 16/],
      ['bf16-mismatch', { x: { dtype: 'BF16', shape: [4], data_offsets: [0, 16] } }, /needs 8 bytes/],
      [
        'overlap',
        { x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, y: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } },
        /"y".*overlaps the previous tensor/,
      ],
      [
        'gap',
        { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, y: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } },
        /"y".*gap of 4 bytes/,
      ],
      ['trailing', { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, /data section.*cover 8 bytes but 16 bytes/],
      ['reversed', { x: { dtype: 'F32', shape: [0], data_offsets: [16, 0] } }, /"x".*invalid "data_offsets"/],
      ['no-dtype', { x: { shape: [4], data_offsets: [0, 16] } }, /"x".*no string "dtype"/],
      ['bad-shape', { x: { dtype: 'F32', shape: [4, -1], data_offsets: [0, 16] } }, /"x".*invalid "shape"/],
    ];
    for (const [name, header, pattern] of cases) {
      const file = await rawFile(`${name}.safetensors`, header, data);
      const e = await errorOf(openSafetensorsFile(file));
      expect(e, name).toBeInstanceOf(ModelFormatError);
      expect(e.message, name).toContain(file);
      expect(e.message, name).toMatch(pattern);
    }
  });

  it('opens files with unsupported dtypes but refuses to read them as floats, naming tensor and dtype', async () => {
    const file = await rawFile(
      'dtypes.safetensors',
      { d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] }, q: { dtype: 'I8', shape: [4], data_offsets: [16, 20] } },
      new Uint8Array(20),
    );
    const src = await openSafetensorsFile(file);
    for (const [name, dtype] of [['d', 'F64'], ['q', 'I8']]) {
      const e = await errorOf(src.readF32(name));
      expect(e).toBeInstanceOf(UnsupportedModelError);
      expect(e.message).toContain(`field "${name}"`);
      expect(e.message).toContain(`dtype ${dtype}`);
    }
    await src.close();
  });

  it('reads one tensor of a file far larger than memory reads allow (only its byte range is read)', async () => {
    // A sparse 2.5 GiB file: readFile would fail with ERR_FS_FILE_TOO_LARGE (2 GiB), a ranged read does not.
    const bigBytes = 2.5 * 2 ** 30;
    const small = f32Bytes(4);
    const file = await rawFile('sparse.safetensors', { small: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, big: { dtype: 'F32', shape: [bigBytes / 4], data_offsets: [16, 16 + bigBytes] } }, small);
    const headerEnd = (await readFile(file)).length - 16;
    await truncate(file, headerEnd + 16 + bigBytes);
    const src = await openSafetensorsFile(file);
    expect(await src.readF32('small')).toEqual(new Float32Array(4).fill(1));
    await src.close();
  });
});

describe('validateLlamaWeights', () => {
  it('names a missing tensor and a wrong shape; lm_head may be absent only when tied', async () => {
    const cfg = await loadLlamaConfig(FIXTURE_DIR);
    const full = await openSafetensors(FIXTURE_DIR);
    // Rewrite the fixture with one tensor dropped and one transposed, in F32 to keep the test simple.
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const n of full.names()) tensors[n] = { dtype: 'F32', shape: [...full.info(n).shape], data: await full.readF32(n) };
    await full.close();

    const write = async (name: string, t: typeof tensors) => {
      const dir = await mkdtemp(join(tmp, `${name}-`));
      await writeSafetensors(join(dir, 'model.safetensors'), t);
      return openSafetensors(dir);
    };
    const { ['lm_head.weight']: _lm, ...noHead } = tensors;
    const headless = await write('nohead', noHead);
    expect(() => validateLlamaWeights(headless, cfg)).toThrow(/lm_head\.weight.*missing.*tie_word_embeddings is false/);
    expect(() => validateLlamaWeights(headless, { ...cfg, tieWordEmbeddings: true })).not.toThrow();
    await headless.close();

    const k = 'model.layers.1.self_attn.k_proj.weight';
    const [rows, cols] = tensors[k].shape;
    const transposed = await write('shape', { ...tensors, [k]: { ...tensors[k], shape: [cols, rows] } });
    const e = (() => {
      try {
        validateLlamaWeights(transposed, cfg);
      } catch (err) {
        return err as ModelFormatError;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e!.field).toBe(k);
    expect(e!.message).toContain(`has shape [${cols}, ${rows}] but config.json implies [${rows}, ${cols}]`);
    await transposed.close();

    const { [k]: _k, ...noK } = tensors;
    const missing = await write('missing', noK);
    expect(() => validateLlamaWeights(missing, cfg)).toThrow(new RegExp(`${k.replace(/\./g, '\\.')}.*missing`));
    await missing.close();
  });
});
