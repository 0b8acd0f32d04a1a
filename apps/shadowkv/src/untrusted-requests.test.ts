// Untrusted requests (issue 14): every generate() input validated up front with a typed error naming the option;
// non-finite logits and weights refused; a tokenizer that outgrows the model's embedding caught at load.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContextLengthError, InvalidOptionError, ModelFormatError, NumericalError } from '@shadowkv/core';
import { writeRandomLlama } from '@shadowkv/model-llama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from './engine.js';
import { checkFiniteLogits } from './logits-check.js';
import { StopMatcher } from './stop-matcher.js';

const TOKENIZER_DIR = fileURLToPath(new URL('../../../fixtures/tokenizer-bpe', import.meta.url));
const SMALL = { hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16 };

let tmp: string;
let engine: Engine;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'skv-requests-'));
  await writeRandomLlama(join(tmp, 'ok'), { config: SMALL, tokenizerFrom: TOKENIZER_DIR });
  engine = await createEngine({ model: join(tmp, 'ok'), backend: 'cpu' });
});
afterAll(async () => {
  engine?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

function optionError(f: () => unknown): InvalidOptionError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InvalidOptionError);
  return caught as InvalidOptionError;
}

describe('generate() validates every input before any compute', () => {
  it.each([
    ['inputIds', { inputIds: '0,1,2' }, {}],
    ['inputIds', { inputIds: [0, 1.5] }, {}],
    ['prompt', null, {}],
    ['prompt', 42, {}],
    ['prompt', { text: 'hi' }, {}],
    ['messages', { messages: [{ role: 'user' }] }, {}],
    ['messages', { messages: 'hi' }, {}],
    ['cache', 'hi', { cache: {} }],
    ['stop', 'hi', { stop: [null] }],
    ['stop', 'hi', { stop: [''] }],
    ['stop', 'hi', { stop: 5 }],
    ['seed', 'hi', { seed: Number.NaN }],
    ['seed', 'hi', { seed: 'x' }],
    ['seed', 'hi', { seed: 1.5 }],
    ['temperature', 'hi', { temperature: 'hot' }],
    ['temperature', 'hi', { temperature: Number.POSITIVE_INFINITY }],
    ['topP', 'hi', { topP: 0 }],
    ['topK', 'hi', { topK: -1 }],
    ['maxNewTokens', 'hi', { maxNewTokens: '5' }],
    ['prefillChunkSize', 'hi', { prefillChunkSize: 0 }],
    ['signal', 'hi', { signal: { aborted: false } }],
    ['ignoreEos', 'hi', { ignoreEos: 'yes' }],
    ['chat', 'hi', { chat: 1 }],
    ['onPrefillProgress', 'hi', { onPrefillProgress: 'log' }],
    ['options', 'hi', null],
  ] as const)('%s: %j with %j', (option, prompt, opts) => {
    const err = optionError(() => engine.generate(prompt as never, opts as never));
    expect(err.option).toBe(option);
  });

  it('a session turn validates the same way', () => {
    const s = engine.session();
    try {
      expect(optionError(() => s.generate({ inputIds: '0,1' } as never)).option).toBe('inputIds');
      expect(optionError(() => s.generate('hi', { stop: [null] } as never)).option).toBe('stop');
    } finally {
      s.dispose();
    }
  });

  it('stop: "abc" is one stop string, not three', async () => {
    const m = new StopMatcher('abc');
    expect(m.push('a').stopped).toBe(false);
    expect(m.push('xb').stopped).toBe(false);
    expect(m.push('abc').stopped).toBe(true);
    // Through generate(): a single-string stop is accepted and behaves as a one-entry list.
    const one = await engine.generateText('hello', { maxNewTokens: 6, stop: 'zzzz-never', ignoreEos: true });
    const list = await engine.generateText('hello', { maxNewTokens: 6, stop: ['zzzz-never'], ignoreEos: true });
    expect(one.tokens).toEqual(list.tokens);
  });
});

describe('silent garbage is refused', () => {
  it('non-finite logits are a NumericalError naming the likely causes', () => {
    const logits = new Float32Array(8);
    checkFiniteLogits(logits);
    logits[5] = Number.NaN;
    expect(() => checkFiniteLogits(logits)).toThrow(NumericalError);
    logits[5] = Number.NEGATIVE_INFINITY;
    expect(() => checkFiniteLogits(logits)).toThrow(/NaN or Inf values in the checkpoint's weights, an extreme rope_theta/);
  });

  it('a NaN weight in the checkpoint is refused at load, naming the tensor', async () => {
    const dir = join(tmp, 'nan');
    await writeRandomLlama(dir, { config: { ...SMALL, vocab_size: 64 } });
    // Overwrite the first element of model.norm.weight (BF16) with a NaN pattern.
    const file = join(dir, 'model.safetensors');
    const buf = await readFile(file);
    const headerLen = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    buf.writeUInt16LE(0x7fc0, 8 + headerLen + header['model.norm.weight'].data_offsets[0]);
    await writeFile(file, buf);
    const err = await createEngine({ model: dir, backend: 'cpu' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as ModelFormatError).field).toBe('model.norm.weight');
  });

  it('a tokenizer with more ids than the model has embedding rows is caught when the engine is created', async () => {
    const dir = join(tmp, 'small-vocab');
    // The fixture tokenizer has 517 ids; this model only 300 rows (and no token id in config.json beyond them).
    await writeRandomLlama(dir, { config: { ...SMALL, vocab_size: 300, bos_token_id: 0, eos_token_id: 1 }, tokenizerFrom: TOKENIZER_DIR });
    const err = await createEngine({ model: dir, backend: 'cpu' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as ModelFormatError).message).toMatch(/embedding has 300 rows/);
  });
});

describe('session turns get the same length pre-check as generate()', () => {
  it('a text turn far longer than the session can hold is a ContextLengthError before tokenizing', async () => {
    const session = engine.session({ capacity: 64 });
    // 64 positions x the longest token of any BPE vocabulary is far below 10 MB: refused from the length alone.
    const huge = 'a'.repeat(10_000_000);
    const started = performance.now();
    await expect(session.generateText(huge, { maxNewTokens: 1 })).rejects.toBeInstanceOf(ContextLengthError);
    expect(performance.now() - started).toBeLessThan(2000);
    session.dispose();
  });
});
