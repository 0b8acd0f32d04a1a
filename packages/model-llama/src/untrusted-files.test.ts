// Hostile model folders (issue 14): every class of file defect found by fuzzing gives a typed error naming
// the file and field, fast and with a short message, before anything proportional to the claimed sizes.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContextLengthError, ModelFormatError, ShadowKvError, UnsupportedModelError } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplate } from './chat-template.js';
import { parseLlamaConfig } from './config.js';
import { LlamaModel } from './llama-model.js';
import { writeRandomLlama } from './random-llama.js';
import { parseSafetensorsHeader } from './safetensors-header.js';
import { parseWeightMap } from './safetensors-index.js';
import { createTokenizer } from './tokenizer.js';
import { wrapTokenizerError } from './tokenizer-probe.js';

const TOKENIZER_DIR = fileURLToPath(new URL('../../../fixtures/tokenizer-bpe', import.meta.url));
const DEEP = 20_000;
const deep = (leaf: unknown): unknown => JSON.parse(`${'['.repeat(DEEP)}${JSON.stringify(leaf)}${']'.repeat(DEEP)}`);

const BASE = {
  architectures: ['LlamaForCausalLM'],
  vocab_size: 512,
  hidden_size: 128,
  intermediate_size: 344,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 4096,
};

/** Runs f, expects a ShadowKvError subclass `cls`, and returns it (message bounded). */
function typedError<T extends ShadowKvError>(f: () => unknown, cls: new (...a: never[]) => T): T {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as Error).message.length).toBeLessThan(600);
  return caught as T;
}

async function rejects<T extends ShadowKvError>(p: Promise<unknown>, cls: new (...a: never[]) => T): Promise<T> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  return err as T;
}

let tmp: string;
let tokJson: Record<string, unknown>;
let tokConfig: Record<string, unknown>;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'skv-untrusted-'));
  tokJson = JSON.parse(await readFile(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8'));
  tokConfig = JSON.parse(await readFile(join(TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('deep nesting gives a typed error with a bounded message (JSON.stringify overflowed the stack)', () => {
  it('in config.json fields', () => {
    for (const field of ['hidden_size', 'architectures', 'rope_scaling', 'eos_token_id']) {
      const err = typedError(() => parseLlamaConfig({ ...BASE, [field]: deep(1) }, 'config.json'), ModelFormatError);
      expect(err.field).toBe(field);
    }
  });
  it('in a safetensors header entry', () => {
    const text = JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }).replace('[1]', `${'['.repeat(DEEP)}1${']'.repeat(DEEP)}`);
    const err = typedError(() => parseSafetensorsHeader(text, 'model.safetensors', 8 + text.length, 8 + text.length + 4), ModelFormatError);
    expect(err.field).toBe('w');
    const dtype = JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }).replace('"F32"', `${'['.repeat(DEEP)}"F32"${']'.repeat(DEEP)}`);
    typedError(() => parseSafetensorsHeader(dtype, 'model.safetensors', 8, 12), ModelFormatError);
  });
  it('in the shard index', () => {
    const err = typedError(() => parseWeightMap({ weight_map: { w: deep('a.safetensors') } }, 'model.safetensors.index.json'), ModelFormatError);
    expect(err.field).toBe('weight_map');
  });
});

describe('absurd sizes fail fast, before allocation', () => {
  it('sizes beyond sane bounds are rejected by the config parser', () => {
    for (const [field, v] of [
      ['num_hidden_layers', 1e6],
      ['num_hidden_layers', 1e7],
      ['vocab_size', 1e9],
      ['hidden_size', 2 ** 30],
      ['intermediate_size', 1e8],
      ['num_attention_heads', 4096], // with head_dim given below
      ['max_position_embeddings', 2 ** 40],
    ] as const) {
      const t0 = performance.now();
      const err = typedError(() => parseLlamaConfig({ ...BASE, num_key_value_heads: undefined, head_dim: 32, [field]: v }, 'config.json'), ModelFormatError);
      expect(err.field).toBe(field);
      expect(performance.now() - t0).toBeLessThan(50);
    }
  });
  it('a layer count within bounds but above what the file holds is checked against the file, not built', async () => {
    const dir = join(tmp, 'layers');
    await writeRandomLlama(dir, { config: { hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16, vocab_size: 64 } });
    const cfgText = await readFile(join(dir, 'config.json'), 'utf8');
    await writeFile(join(dir, 'config.json'), cfgText.replace('"num_hidden_layers": 2', '"num_hidden_layers": 1000'));
    const t0 = performance.now();
    const err = await rejects(LlamaModel.load(dir, { backend: cpu() }), ModelFormatError);
    expect(err.field).toBe('num_hidden_layers');
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('silent garbage from config/weight disagreement', () => {
  it('tensors the config does not explain (fewer layers in config.json than in the file) are an error', async () => {
    const dir = join(tmp, 'extra');
    await writeRandomLlama(dir, { config: { hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16, vocab_size: 64 } });
    const cfgText = await readFile(join(dir, 'config.json'), 'utf8');
    await writeFile(join(dir, 'config.json'), cfgText.replace('"num_hidden_layers": 2', '"num_hidden_layers": 1'));
    const err = await rejects(LlamaModel.load(dir, { backend: cpu() }), ModelFormatError);
    expect(err.message).toMatch(/does not explain 9 tensor\(s\).*model\.layers\.1\./);
  });
  it('rope_theta that overflows the frequencies is a ModelFormatError', () => {
    for (const theta of [1e-300, 0.5, 1e300]) {
      expect(typedError(() => parseLlamaConfig({ ...BASE, rope_theta: theta }, 'config.json'), ModelFormatError).field).toBe('rope_theta');
    }
  });
  it('dynamic RoPE scaling that would apply inside the context is UnsupportedModelError; where it cannot apply it loads', async () => {
    const small = { hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16, vocab_size: 64 };
    const dir = join(tmp, 'dynamic');
    await writeRandomLlama(dir, { config: { ...small, rope_scaling: { type: 'dynamic', factor: 2, original_max_position_embeddings: 1024 } } });
    const err = await rejects(LlamaModel.load(dir, { backend: cpu() }), UnsupportedModelError);
    expect(err.field).toBe('rope_scaling.rope_type');
    const ok = join(tmp, 'dynamic-ok');
    await writeRandomLlama(ok, { config: { ...small, rope_scaling: { type: 'dynamic', factor: 2 } } });
    (await LlamaModel.load(ok, { backend: cpu() })).dispose();
  });
});

describe('tokenizer files are validated at load, library errors are typed', () => {
  const make = (mutate: (t: Record<string, unknown>) => void, config: Record<string, unknown> = tokConfig) => {
    const t = structuredClone(tokJson);
    mutate(t);
    return () => createTokenizer(t, config);
  };
  it('a token id of 1e9 is refused without walking a billion ids', () => {
    const t0 = performance.now();
    const err = typedError(
      make((t) => ((t.model as { vocab: Record<string, number> }).vocab.hello = 1e9)),
      ModelFormatError,
    );
    expect(err.field).toBe('model.vocab');
    expect(performance.now() - t0).toBeLessThan(1000);
    const added = typedError(make((t) => ((t.added_tokens as { id: number }[])[0].id = 1e9)), ModelFormatError);
    expect(added.field).toBe('added_tokens[0].id');
  });
  it('a null decoder entry and a null post-processor template are named at load', () => {
    const dec = typedError(
      make((t) => (t.decoder = { type: 'Sequence', decoders: [{ type: 'ByteLevel' }, null] })),
      ModelFormatError,
    );
    expect(dec.field).toBe('decoder.decoders[1]');
    const post = typedError(make((t) => ((t.post_processor as Record<string, unknown>).single = null)), ModelFormatError);
    expect(post.field).toBe('post_processor.single');
  });
  it('a post-processor template naming an undefined special token is caught at load (the library yields undefined ids)', () => {
    const err = typedError(
      make((t) => {
        const p = t.post_processor as { single: unknown[] };
        p.single = [{ SpecialToken: { id: '<|not-defined|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }];
      }),
      ModelFormatError,
    );
    expect(err.file).toBe('tokenizer.json');
    expect(err.field).toBe('post_processor');
  });
  it('defects the library would accept silently are named: bad merges, unknown model type, duplicate ids, non-string special tokens', () => {
    const merges = typedError(make((t) => ((t.model as { merges: unknown[] }).merges[5] = ['zz', 'qq'])), ModelFormatError);
    expect(merges.field).toBe('model.merges[5]');
    expect(typedError(make((t) => ((t.model as { type: unknown }).type = 'Bogus')), ModelFormatError).field).toBe('model.type');
    expect(typedError(make((t) => ((t.model as { type: unknown }).type = 'WordLevel')), UnsupportedModelError).field).toBe('model.type');
    const vocab = (t: Record<string, unknown>) => (t.model as { vocab: Record<string, number> }).vocab;
    expect(typedError(make((t) => (vocab(t).hello = vocab(t)[Object.keys(vocab(t))[7]])), ModelFormatError).message).toMatch(/reuses id/);
    const special = typedError(make(() => {}, { ...tokConfig, eos_token: [[['<|eot_id|>']]] }), ModelFormatError);
    expect(special.field).toBe('eos_token');
    // The type may be absent (the library infers it, as Hugging Face's does).
    expect(() => make((t) => delete (t.model as { type?: unknown }).type)()).not.toThrow();
  });
  it('library failures are wrapped into ModelFormatError naming the file and stage; typed errors pass through', () => {
    const raw = new TypeError("Cannot read properties of null (reading 'Regex')");
    const err = wrapTokenizerError(raw, 'tok/tokenizer.json', 'decode');
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as ModelFormatError).file).toBe('tok/tokenizer.json');
    expect((err as ModelFormatError).field).toBe('decoder');
    expect((err as ModelFormatError).cause).toBe(raw);
    const typed = new ContextLengthError('x');
    expect(wrapTokenizerError(typed, 'f', 'encode')).toBe(typed);
    // A constructor failure of the library (null pattern) is typed too.
    const ctor = typedError(make((t) => (t.decoder = { type: 'Replace', pattern: null, content: 'x' })), ModelFormatError);
    expect(ctor.file).toBe('tokenizer.json');
  });
  it('refuses a text that cannot fit maxTokens before tokenizing it', () => {
    const tok = createTokenizer(tokJson, tokConfig);
    const text = 'a'.repeat(10 * 1024 * 1024);
    const t0 = performance.now();
    typedError(() => tok.encode(text, { maxTokens: 4096 }), ContextLengthError);
    expect(performance.now() - t0).toBeLessThan(50);
    expect(tok.encode('hello', { maxTokens: 4096 }).length).toBeGreaterThan(0);
  });
});

describe('chat templates are untrusted code: bounded time and size, never a dead process', () => {
  const render = (source: string) => () => new ChatTemplate(source, 'tokenizer_config.json', 'chat_template', {}).render([{ role: 'user', content: 'hi' }]);
  it.each([
    ['range(1e9)', '{% for i in range(1000000000) %}x{% endfor %}'],
    ['nested loops', '{% for i in range(10000) %}{% for j in range(10000) %}{{ j }}{% endfor %}{% endfor %}'],
    ['triple loops with an empty body', '{% for i in range(16000) %}{% for j in range(16000) %}{% for k in range(16000) %}{% endfor %}{% endfor %}{% endfor %}'],
    ['string doubling', "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"],
    ['list doubling', '{% set ns = namespace(a=[1]) %}{% for i in range(64) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a|length }}'],
    ['a huge tojson indent', '{{ messages|tojson(indent=500000000) }}'],
  ])('%s: ModelFormatError within the deadline', (_name, source) => {
    const t0 = performance.now();
    const err = typedError(render(source), ModelFormatError);
    expect(err.field).toBe('chat_template');
    expect(performance.now() - t0).toBeLessThan(4000);
  });
  it('a 10 MB template is refused at load', () => {
    const big = `{{ bos_token }}${' '.repeat(10 * 1024 * 1024)}`;
    const err = typedError(() => createTokenizer(tokJson, { ...tokConfig, chat_template: big }), ModelFormatError);
    expect(err.field).toBe('chat_template');
  });
  it('the real template still renders as before', () => {
    const tok = createTokenizer(tokJson, tokConfig);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toContain('hi');
  });
});
