// Batched forward: greedy tokens of every sequence in a batch (mixed prompt lengths, mixed cache policies, some
// sequences prefilling while others decode) equal the same sequence run alone with model.forward, with the rows
// stacked on the device (the backend's writeRows) and through the host (a backend without it).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KvCachePolicy, KvCacheState, Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { dense, kcache, shadowkv } from '@shadowkv/kv-policies';
import { beforeAll, describe, expect, it } from 'vitest';
import { forwardBatch } from './batch-forward.js';
import { LlamaModel } from './llama-model.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const CHUNK = 16;
const NEW = 6;

function argmax(row: Float32Array | Int32Array, off = 0, n = row.length): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (row[off + i] > row[off + best]) best = i;
  return best;
}

function promptOf(len: number, seed: number, vocab: number): number[] {
  return Array.from({ length: len }, (_, i) => (seed * 131 + i * 17 + ((i * i) % 7)) % (vocab - 2) + 2);
}

describe('forwardBatch', () => {
  const backend = cpu();
  let model: LlamaModel;
  const ctx = (maxSeqLen: number) => ({ backend, model: model.config, rope: model.rope, maxSeqLen });

  beforeAll(async () => {
    model = await LlamaModel.load(fixtureDir, { backend });
  });

  /** Prefill in CHUNK-token chunks (the last prompt token alone, as the engine does), then greedy decode. */
  async function solo(policy: KvCachePolicy, ids: number[]): Promise<number[]> {
    const state = policy.create(ctx(ids.length + NEW));
    const body = ids.length - 1;
    for (let s = 0; s < body; s += CHUNK) await model.forward(ids.slice(s, Math.min(body, s + CHUNK)), state);
    let t = await model.forward([ids[body]], state, { lastLogits: true });
    await state.endPrefill();
    const out: number[] = [];
    for (;;) {
      const tok = argmax((await backend.read(t!)) as Float32Array);
      backend.dispose(t!);
      out.push(tok);
      if (out.length === NEW) break;
      t = await model.forward([tok], state, { lastLogits: true });
    }
    state.dispose();
    return out;
  }

  /** The same protocol for all sequences at once: every step runs each unfinished sequence's next piece together. */
  async function batched(policies: KvCachePolicy[], prompts: number[][]): Promise<number[][]> {
    const seqs = prompts.map((ids, i) => ({ ids, pos: 0, state: policies[i].create(ctx(ids.length + NEW)) as KvCacheState, out: [] as number[], next: -1 }));
    for (;;) {
      const live = seqs.filter((s) => s.out.length < NEW);
      if (live.length === 0) break;
      const pieces = live.map((s) => {
        const body = s.ids.length - 1;
        if (s.pos < body) return { ids: s.ids.slice(s.pos, Math.min(body, s.pos + CHUNK)), lastLogits: false };
        if (s.pos === body) return { ids: [s.ids[body]], lastLogits: true };
        return { ids: [s.next], lastLogits: true };
      });
      const { logits, logitsRow } = await forwardBatch(model, live.map((s, i) => ({ ...pieces[i], state: s.state })));
      const data = logits ? ((await backend.read(logits)) as Float32Array) : null;
      if (logits) backend.dispose(logits);
      const vocab = model.config.vocabSize;
      for (const [i, s] of live.entries()) {
        const wasLastPrompt = s.pos === s.ids.length - 1;
        s.pos += pieces[i].ids.length;
        if (wasLastPrompt) await s.state.endPrefill();
        if (logitsRow[i] >= 0) {
          s.next = argmax(data!, logitsRow[i] * vocab, vocab);
          s.out.push(s.next);
        }
      }
    }
    for (const s of seqs) s.state.dispose();
    return seqs.map((s) => s.out);
  }

  it('stacks the attention rows the same with writeRows and through the host', async () => {
    expect(typeof backend.writeRows).toBe('function');
    const vocab = model.config.vocabSize;
    const run = async () => {
      const a = dense().create(ctx(40));
      const b = shadowkv({ rank: 8, budget: 16, outliers: 1, localChunks: 1, chunkSize: 4 }).create(ctx(40));
      const r = await forwardBatch(model, [
        { ids: promptOf(13, 5, vocab), state: a, lastLogits: true },
        { ids: promptOf(29, 6, vocab), state: b, lastLogits: true },
      ]);
      const data = await backend.read(r.logits!);
      backend.dispose(r.logits!);
      a.dispose();
      b.dispose();
      return data;
    };
    // Own properties shadow the prototype's method: first a counting wrapper, then none (the host path).
    const own = backend as { writeRows?: unknown };
    const real = backend.writeRows!.bind(backend);
    let calls = 0;
    try {
      own.writeRows = (dst: Tensor, src: Tensor, start: number) => {
        calls++;
        real(dst, src, start);
      };
      const onDevice = await run();
      // Two sequences' rows per layer.
      expect(calls).toBe(2 * model.config.nLayers);
      own.writeRows = undefined;
      const viaHost = await run();
      expect(viaHost).toEqual(onDevice);
      expect(calls).toBe(2 * model.config.nLayers);
    } finally {
      delete own.writeRows;
    }
    expect(typeof backend.writeRows).toBe('function');
  });

  it('gives every sequence the tokens it gets alone (mixed lengths and policies, prefill interleaved with decode)', async () => {
    const vocab = model.config.vocabSize;
    const lens = [70, 9, 130, 33];
    const prompts = lens.map((n, i) => promptOf(n, i + 1, vocab));
    const makers = [
      () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 }),
      () => dense(),
      () => kcache({ topN: 16 }),
      () => dense(),
    ];
    const alone: number[][] = [];
    for (const [i, p] of prompts.entries()) alone.push(await solo(makers[i](), p));
    const together = await batched(makers.map((m) => m()), prompts);
    expect(together).toEqual(alone);
    // The sequences differ, so equality is not a constant answer.
    expect(new Set(alone.map((a) => a.join())).size).toBeGreaterThan(1);
  });

  it('returns logits only for the sequences that ask, in input order', async () => {
    const a = dense().create(ctx(8));
    const b = dense().create(ctx(8));
    const r = await forwardBatch(model, [
      { ids: [3, 4, 5], state: a },
      { ids: [6, 7], state: b, lastLogits: true },
    ]);
    expect(r.logitsRow).toEqual([-1, 0]);
    expect(r.logits!.shape).toEqual([1, model.config.vocabSize]);
    expect([a.seqLen, b.seqLen]).toEqual([3, 2]);
    backend.dispose(r.logits!);
  });

  it('refuses the same state twice and empty sequences with typed errors', async () => {
    const a = dense().create(ctx(8));
    await expect(forwardBatch(model, [{ ids: [3], state: a }, { ids: [4], state: a }])).rejects.toThrow(/same KV state/);
    await expect(forwardBatch(model, [{ ids: [], state: a }])).rejects.toThrow(/at least one new token/);
    await expect(forwardBatch(model, [])).rejects.toThrow(/at least one sequence/);
  });
});
