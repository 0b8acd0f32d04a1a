// Streaming detokenization on the byte-level BPE fixture: pieces concatenate to the full decode and
// never contain U+FFFD from a character split across tokens.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStreamDecoder } from './stream-decoder.js';
import { loadTokenizer, type LlamaTokenizer } from './tokenizer.js';

const DIR = process.env.SHADOWKV_TOKENIZER_DIR ?? fileURLToPath(new URL('../../../fixtures/tokenizer-bpe', import.meta.url));

let tok: LlamaTokenizer;
let texts: string[];
beforeAll(async () => {
  tok = (await loadTokenizer(DIR))!;
  const golden = JSON.parse(await readFile(join(DIR, 'golden.json'), 'utf8')) as { samples: { text: string }[] };
  texts = golden.samples.map((s) => s.text);
});

function stream(ids: number[], skipSpecialTokens = false): string[] {
  const d = tok.createStreamDecoder({ skipSpecialTokens });
  const pieces = ids.map((id) => d.push(id));
  pieces.push(d.flush());
  return pieces;
}

describe('StreamDecoder', () => {
  it('concatenates to decode(all) for every golden sample, with and without special tokens', () => {
    for (const text of texts) {
      const ids = tok.encode(text);
      expect(stream(ids).join(''), JSON.stringify(text)).toBe(tok.decode(ids));
      expect(stream(ids, true).join(''), JSON.stringify(text)).toBe(tok.decode(ids, { skipSpecialTokens: true }));
    }
  });

  it('never emits U+FFFD on multi-byte text (CJK, emoji, accents) that byte-level BPE splits across tokens', () => {
    const multiByte = [...texts.filter((t) => /[^\x00-\x7f]/.test(t)), '数字 🦙🔥 naïve — 長い文章です。😀👍🏽'];
    expect(multiByte.length).toBeGreaterThanOrEqual(2);
    let heldBack = 0;
    for (const text of multiByte) {
      const ids = tok.encode(text, { addSpecialTokens: false });
      // The test only means something if some single token is an incomplete character on its own.
      heldBack += ids.filter((id) => tok.decode([id]).includes('\uFFFD')).length;
      const pieces = stream(ids);
      for (const p of pieces) expect(p, JSON.stringify(text)).not.toContain('\uFFFD');
      expect(pieces.join('')).toBe(text);
    }
    expect(heldBack).toBeGreaterThan(0);
  });

  it('releases text as soon as a character is complete, and flush reports a dangling partial character', () => {
    const ids = tok.encode('🦙', { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan(1);
    const d = tok.createStreamDecoder();
    const pieces = ids.map((id) => d.push(id));
    expect(pieces.slice(0, -1).every((p) => p === '')).toBe(true);
    expect(pieces.at(-1)).toBe('🦙');
    expect(d.flush()).toBe('');

    const cut = tok.createStreamDecoder();
    expect(cut.push(ids[0])).toBe('');
    expect(cut.flush()).toBe(tok.decode([ids[0]]));
  });

  it('works over any decode function (a character-level one here)', () => {
    const d = createStreamDecoder((ids) => String.fromCodePoint(...ids));
    expect([0x61, 0x1f999, 0x62].map((c) => d.push(c)).join('') + d.flush()).toBe('a🦙b');
  });
});
