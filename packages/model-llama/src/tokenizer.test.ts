// Tokenizer against the goldens produced by Hugging Face `tokenizers` (encode, decode, chat template),
// plus loading edge cases. Exact equality everywhere: tokenization is discrete.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError, ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenizer, loadTokenizer, type LlamaTokenizer } from './tokenizer.js';

const DIR = process.env.SHADOWKV_TOKENIZER_DIR ?? fileURLToPath(new URL('../../../fixtures/tokenizer-bpe', import.meta.url));

interface Golden {
  samples: { text: string; ids: number[]; ids_no_special: number[]; decoded: string; decoded_skip_special: string }[];
  chat: { messages: { role: string; content: string }[]; rendered: string; ids: number[] };
  vocab_size: number;
}

let golden: Golden;
let tok: LlamaTokenizer;
let tmp: string;
beforeAll(async () => {
  golden = JSON.parse(await readFile(join(DIR, 'golden.json'), 'utf8')) as Golden;
  tok = (await loadTokenizer(DIR))!;
  tmp = await mkdtemp(join(tmpdir(), 'skv-tok-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('goldens from tokenizers', () => {
  it('has the golden vocabulary size and BOS/EOS from tokenizer_config.json', async () => {
    expect(tok.vocabSize).toBe(golden.vocab_size);
    const config = JSON.parse(await readFile(join(DIR, 'tokenizer_config.json'), 'utf8')) as { bos_token: string; eos_token: string };
    expect(tok.bosTokenId).toBe(tok.tokenToId(config.bos_token));
    expect(tok.eosTokenIds).toEqual([tok.tokenToId(config.eos_token)]);
    // `ids` are encode(text) with special tokens: the post-processor prepends BOS.
    expect(golden.samples[0].ids[0]).toBe(tok.bosTokenId);
  });

  it('encodes every sample with and without special tokens', () => {
    for (const s of golden.samples) {
      expect(tok.encode(s.text), JSON.stringify(s.text)).toEqual(s.ids);
      expect(tok.encode(s.text, { addSpecialTokens: false }), JSON.stringify(s.text)).toEqual(s.ids_no_special);
    }
  });

  it('decodes ids_no_special to `decoded` and ids (skipping specials) to `decoded_skip_special`', () => {
    for (const s of golden.samples) {
      expect(tok.decode(s.ids_no_special), JSON.stringify(s.text)).toBe(s.decoded);
      expect(tok.decode(s.ids, { skipSpecialTokens: true }), JSON.stringify(s.text)).toBe(s.decoded_skip_special);
      // Without skipping, the BOS text stays in front.
      const bos = s.ids[0] === tok.bosTokenId ? tok.decode([s.ids[0]]) : '';
      expect(tok.decode(s.ids)).toBe(bos + s.decoded);
    }
  });

  it('renders the chat template to the golden string, whose ids (no extra specials) match', () => {
    expect(tok.hasChatTemplate()).toBe(true);
    const rendered = tok.applyChatTemplate(golden.chat.messages, { addGenerationPrompt: true });
    expect(rendered).toBe(golden.chat.rendered);
    // The template already writes BOS as text, so the golden ids are encode(rendered) without adding another.
    expect(tok.encode(rendered, { addSpecialTokens: false })).toEqual(golden.chat.ids);
    // The default adds the generation prompt; without it the rendered text is a strict prefix.
    expect(tok.applyChatTemplate(golden.chat.messages)).toBe(rendered);
    const bare = tok.applyChatTemplate(golden.chat.messages, { addGenerationPrompt: false });
    expect(rendered.startsWith(bare) && bare.length < rendered.length).toBe(true);
  });
});

describe('input checks', () => {
  it('rejects out-of-vocabulary ids and malformed messages', () => {
    expect(() => tok.decode([tok.vocabSize])).toThrow(InvalidOptionError);
    expect(() => tok.decode([-1])).toThrow(/outside the vocabulary/);
    expect(tok.decode([])).toBe('');
    expect(() => tok.applyChatTemplate([{ role: 'user' } as never])).toThrow(InvalidOptionError);
  });
});

describe('loadTokenizer', () => {
  const copyTo = async (name: string, files = ['tokenizer.json', 'tokenizer_config.json']) => {
    const dir = await mkdtemp(join(tmp, `${name}-`));
    for (const f of files) await copyFile(join(DIR, f), join(dir, f));
    return dir;
  };

  it('returns null for a directory without tokenizer.json', async () => {
    expect(await loadTokenizer(tmp)).toBeNull();
  });

  it('works without tokenizer_config.json (no BOS/EOS names, no chat template)', async () => {
    const t = (await loadTokenizer(await copyTo('noconfig', ['tokenizer.json'])))!;
    expect(t.bosTokenId).toBeNull();
    expect(t.hasChatTemplate()).toBe(false);
    expect(() => t.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(UnsupportedModelError);
    expect(t.encode(golden.samples[0].text, { addSpecialTokens: false })).toEqual(golden.samples[0].ids_no_special);
  });

  it('prefers chat_template.jinja over tokenizer_config.json', async () => {
    const dir = await copyTo('jinja');
    await writeFile(join(dir, 'chat_template.jinja'), '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ eos_token }}');
    const t = (await loadTokenizer(dir))!;
    const config = JSON.parse(await readFile(join(DIR, 'tokenizer_config.json'), 'utf8')) as { eos_token: string };
    expect(t.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe(`[user]hi${config.eos_token}`);
  });

  it('reports malformed files with typed errors naming them', async () => {
    const badJson = await copyTo('badjson');
    await writeFile(join(badJson, 'tokenizer.json'), '{"model": ');
    const e1 = (await loadTokenizer(badJson).catch((e: unknown) => e)) as Error;
    expect(e1).toBeInstanceOf(ModelFormatError);
    expect(e1.message).toMatch(/tokenizer\.json: is not valid JSON/);

    const noModel = await copyTo('nomodel');
    await writeFile(join(noModel, 'tokenizer.json'), '{"version": "1.0"}');
    expect(await loadTokenizer(noModel).catch((e: unknown) => e)).toBeInstanceOf(ModelFormatError);

    const badTemplate = await copyTo('badtemplate');
    const cfg = JSON.parse(await readFile(join(DIR, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(badTemplate, 'tokenizer_config.json'), JSON.stringify({ ...cfg, chat_template: '{% for m in messages %}{{ m.content }' }));
    const e3 = (await loadTokenizer(badTemplate).catch((e: unknown) => e)) as ModelFormatError;
    expect(e3).toBeInstanceOf(ModelFormatError);
    expect(e3.field).toBe('chat_template');

    const wrongBos = await copyTo('wrongbos');
    await writeFile(join(wrongBos, 'tokenizer_config.json'), JSON.stringify({ ...cfg, bos_token: '<s>' }));
    expect(((await loadTokenizer(wrongBos).catch((e: unknown) => e)) as Error).message).toMatch(/bos_token.*"<s>" is not a token/);
  });
});

describe('createTokenizer (parsed JSON, no files: what browsers use)', () => {
  const readJson = async (name: string) => JSON.parse(await readFile(join(DIR, name), 'utf8')) as Record<string, unknown>;

  it('behaves like loadTokenizer on the same files', async () => {
    const t = createTokenizer(await readJson('tokenizer.json'), await readJson('tokenizer_config.json'));
    expect([t.vocabSize, t.bosTokenId, t.eosTokenIds]).toEqual([tok.vocabSize, tok.bosTokenId, tok.eosTokenIds]);
    for (const s of golden.samples) expect(t.encode(s.text), JSON.stringify(s.text)).toEqual(s.ids);
    expect(t.applyChatTemplate(golden.chat.messages)).toBe(golden.chat.rendered);
  });

  it('takes a separate chat template, defaults to no config, and names its sources in errors', async () => {
    const json = await readJson('tokenizer.json');
    const config = await readJson('tokenizer_config.json');
    expect(createTokenizer(json, config, { chatTemplate: '{{ messages[0].content }}!' }).applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe('hi!');
    expect(createTokenizer(json).hasChatTemplate()).toBe(false);
    const e1 = (() => {
      try {
        createTokenizer({ version: '1.0' }, {}, { tokenizerFile: 'https://host/m/tokenizer.json' });
      } catch (e) {
        return e as ModelFormatError;
      }
    })();
    expect(e1).toBeInstanceOf(ModelFormatError);
    expect(e1!.message).toMatch(/^https:\/\/host\/m\/tokenizer\.json \(field "model"\): is missing/);
    expect(() => createTokenizer(json, [])).toThrow(/tokenizer_config\.json: must hold a JSON object/);
    expect(() => createTokenizer(json, { ...config, eos_token: '</s>' }, { configFile: 'cfg.json' })).toThrow(/cfg\.json \(field "eos_token"\).*"<\/s>" is not a token/);
  });
});
