// The needle demo on the shipped model: the prompt hides the pass key where it says, and both caches retrieve it.
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.js';
import { DEMO_SHADOWKV, formatDemo, needleModelDir, needlePrompt, runNeedleDemo } from './demo.js';

describe('shadowkv demo (needle-llama)', () => {
  it('builds a prompt of about the asked length with the needle at the asked depth', async () => {
    const engine = await createEngine({ model: needleModelDir(), backend: 'cpu' });
    try {
      const p = needlePrompt(engine, 1500, 0.5, 3);
      expect(p.ids[0]).toBe(engine.model.config.bosTokenId);
      // Cut at whole snippets (about 60 tokens each), never over the length asked for.
      expect(p.ids.length).toBeLessThanOrEqual(1500);
      expect(p.ids.length).toBeGreaterThan(1500 - 120);
      expect(Math.abs(p.needleAt / p.ids.length - 0.5)).toBeLessThan(0.05);
      const tok = engine.requireTokenizer();
      expect(tok.decode(p.ids.slice(p.needleAt, p.needleAt + 12))).toContain(`The pass key is ${p.passKey}`);
      expect(p.text.endsWith('What is the pass key? The pass key is')).toBe(true);
      expect(needlePrompt(engine, 1500, 0.5, 3).ids).toEqual(p.ids);
    } finally {
      engine.dispose();
    }
  });

  it('dense and ShadowKV both retrieve the pass key; ShadowKV holds less on the fast side', async () => {
    const r = await runNeedleDemo({ backend: 'cpu', context: 640, depth: 0.25, seed: 0, steps: 8, shadowkv: DEMO_SHADOWKV, quiet: true }, () => {});
    expect(r.rows.map((x) => x.policy.name)).toEqual(['dense', 'shadowkv']);
    for (const row of r.rows) {
      expect(row.answer, row.policy.name).toBe(r.passKey);
      expect(row.correct).toBe(true);
      expect(row.decodeTokensPerSecond).toBeGreaterThan(0);
    }
    const [dense, sk] = r.rows;
    expect(sk.memory.fastBytes).toBeLessThan(dense.memory.fastBytes);
    expect(sk.memory.slowBytes).toBeGreaterThan(0);
    expect(dense.memory.slowBytes).toBe(0);
    const text = formatDemo(r);
    expect(text).toMatch(new RegExp(`answer +${r.passKey} \\(correct\\) +${r.passKey} \\(correct\\)`));
    // Plain ASCII: readable in any terminal or log.
    expect(/^[\x20-\x7e\n]*$/.test(text)).toBe(true);
  });
});
