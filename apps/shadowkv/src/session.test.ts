// Sessions on the fixture model: multi-turn KV reuse equals single-shot generation (dense), each turn prefills
// only its new tokens, truncate/fork rebuild the same state, and the chat-suffix rule.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpu } from '@shadowkv/kernels-cpu';
import { createTokenizer, LlamaModel } from '@shadowkv/model-llama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from './engine.js';
import { SessionStateError } from './session.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', '..', '..', 'fixtures');
const modelDir = join(fixtures, 'hf-llama-gqa');
const golden = JSON.parse(readFileSync(join(modelDir, 'golden.json'), 'utf8')) as { inputs: Record<string, number[]> };
const readJson = (name: string): unknown => JSON.parse(readFileSync(join(fixtures, 'tokenizer-bpe', name), 'utf8'));

// Three turns of token ids (the golden prompt split in three; ids below the vocabulary size of 512).
const prompt = golden.inputs['64'];
const turns = [prompt.slice(0, 40), prompt.slice(40, 52), prompt.slice(52)];

describe('engine.session() under dense', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ model: modelDir, backend: 'cpu' });
  });
  afterAll(() => engine.dispose());

  it('greedy output over three turns equals single-shot generation over the concatenated turns', async () => {
    const s = engine.session();
    const outs: number[][] = [];
    const prefilled: number[] = [];
    for (const t of turns) {
      const r = await s.generateText({ inputIds: t }, { maxNewTokens: 5, ignoreEos: true });
      outs.push(r.tokens);
      prefilled.push(r.prefilledTokens);
      expect(r.promptTokens).toBe(t.length);
    }
    // Turn k prefills only its own new tokens; the earlier ones (generated tokens included) are reused.
    expect(prefilled).toEqual(turns.map((t) => t.length));
    // Single shot: every earlier turn and reply as one prompt, then the last turn.
    for (let k = 0; k < turns.length; k++) {
      const ids = turns.slice(0, k + 1).flatMap((t, i) => (i < k ? [...t, ...outs[i]] : t));
      const one = await engine.generateText({ inputIds: ids }, { maxNewTokens: 5, ignoreEos: true });
      expect(one.tokens, `turn ${k + 1}`).toEqual(outs[k]);
    }
    expect(s.tokens).toEqual(turns.flatMap((t, i) => [...t, ...outs[i]]));
    expect(s.storedTokens).toBe(s.tokens.length);
    s.dispose();
  });

  it('continues from where the last call stopped when given no new prompt', async () => {
    const s = engine.session();
    const a = await s.generateText({ inputIds: turns[0] }, { maxNewTokens: 4, ignoreEos: true });
    const b = await s.generateText(null, { maxNewTokens: 4, ignoreEos: true });
    expect(b.prefilledTokens).toBe(0);
    const one = await engine.generateText({ inputIds: turns[0] }, { maxNewTokens: 8, ignoreEos: true });
    expect([...a.tokens, ...b.tokens]).toEqual(one.tokens);
    s.dispose();
  });

  it('truncate(n) and fork() rebuild the same state (generation continues identically)', async () => {
    const s = engine.session();
    await s.generateText({ inputIds: turns[0] }, { maxNewTokens: 6, ignoreEos: true });
    const f = await s.fork();
    const x = await s.generateText({ inputIds: turns[1] }, { maxNewTokens: 5, ignoreEos: true });
    const y = await f.generateText({ inputIds: turns[1] }, { maxNewTokens: 5, ignoreEos: true });
    expect(y.tokens).toEqual(x.tokens);
    // Cut back into the first reply and go another way; equals a fresh generation over the kept tokens.
    const keep = turns[0].length + 3;
    const kept = s.tokens.slice(0, keep);
    await s.truncate(keep);
    expect(s.tokens).toEqual(kept);
    const z = await s.generateText({ inputIds: turns[2] }, { maxNewTokens: 5, ignoreEos: true });
    expect(z.prefilledTokens).toBe(turns[2].length + 1); // the token at keep-1 is fed again (its logits were not kept)
    const one = await engine.generateText({ inputIds: [...kept, ...turns[2]] }, { maxNewTokens: 5, ignoreEos: true });
    expect(z.tokens).toEqual(one.tokens);
    await expect(s.truncate(0)).rejects.toThrow(/truncate\(0\)/);
    s.dispose();
    f.dispose();
    expect(() => s.generate({ inputIds: [3] })).toThrow(SessionStateError);
  });

  it('a second generate while one runs is a typed error', async () => {
    const s = engine.session();
    const stream = s.generate({ inputIds: turns[0] }, { maxNewTokens: 2 });
    expect(() => s.generate({ inputIds: turns[1] })).toThrow(SessionStateError);
    for await (const _ of stream) {
      // drain
    }
    s.dispose();
  });
});

describe('chat sessions', () => {
  it('prefill only the rendered suffix of the new turn (the earlier rendering is a prefix)', async () => {
    const backend = cpu();
    const model = await LlamaModel.load(modelDir, { backend });
    const tokenizer = createTokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json'));
    const engine = await createEngine({ model, backend, tokenizer });
    const s = engine.session();
    const r1 = await s.generateText({ messages: [{ role: 'user', content: 'def add(a, b):' }] }, { maxNewTokens: 6, ignoreEos: true });
    const afterFirst = s.tokens;
    const r2 = await s.generateText({ messages: [{ role: 'user', content: 'return a + b' }] }, { maxNewTokens: 4, ignoreEos: true });
    const full = tokenizer.encode(
      tokenizer.applyChatTemplate(
        [
          { role: 'user', content: 'def add(a, b):' },
          { role: 'assistant', content: r1.text },
          { role: 'user', content: 'return a + b' },
        ],
        { addGenerationPrompt: true },
      ),
      { addSpecialTokens: false },
    );
    // The session's tokens after turn 2's prompt are the full rendering; it prefilled what was not yet stored.
    let common = 0;
    while (common < afterFirst.length && afterFirst[common] === full[common]) common++;
    expect(s.tokens.slice(0, full.length)).toEqual(full);
    // At least the whole first prompt (everything before the reply) is reused, not prefilled again.
    expect(common).toBeGreaterThanOrEqual(afterFirst.length - r1.tokens.length);
    expect(r2.reusedTokens).toBe(common === afterFirst.length ? afterFirst.length : common - 1);
    expect(r2.promptTokens).toBe(full.length - common);
    // Replaying the same conversation as one prompt gives the same reply.
    const one = await engine.generateText({ inputIds: full }, { maxNewTokens: 4, ignoreEos: true });
    expect(r2.tokens).toEqual(one.tokens);
    engine.dispose();
    model.dispose();
  });
});
