// Queries of the last prompt tokens per layer, recomputed exactly from a prefill recording (research only).
import type { KvAppendInput, KvCacheState, KvStep, LayerAttentionInput, Tensor } from '@shadowkv/core';
import { dense } from '@shadowkv/kv-policies';
import type { PrefillRecording } from 'shadowkv/bench';
import type { Engine } from 'shadowkv';

/**
 * Post-RoPE queries of the last `window` prompt tokens, per layer [window, nHeads*headDim]. The recording's K/V
 * of the tokens before the window go into a dense state and the window's tokens run through the model again:
 * their attention sees exact K/V, so these are the queries the dense prefill computed (what a policy observing
 * prefill attention would see).
 */
export async function windowQueries(engine: Engine, rec: PrefillRecording, ids: number[], window: number): Promise<Float32Array[]> {
  const { backend, model } = engine;
  const c = model.config;
  const L = rec.promptLen;
  const start = L - window;
  const inner = dense().create(engine.cacheContext(L));
  const width = c.nKvHeads * c.headDim;
  const positions = backend.upload(Int32Array.from({ length: start }, (_, i) => i), [start], 'i32');
  inner.beginStep({ start: 0, m: start });
  for (let layer = 0; layer < c.nLayers; layer++) {
    const kPre = backend.upload(rec.kPre[layer].subarray(0, start * width), [start, width]);
    const k = backend.rope(kPre, positions, c.nKvHeads, model.rope);
    const v = backend.upload(rec.v[layer].subarray(0, start * width), [start, width]);
    inner.append({ layer, start: 0, m: start, kPre, k, v });
    for (const t of [kPre, k, v]) backend.dispose(t);
  }
  inner.endStep();
  backend.dispose(positions);
  const out: Float32Array[] = [];
  const capture: KvCacheState = {
    phase: 'prefill',
    get seqLen() {
      return inner.seqLen;
    },
    async attend(input: LayerAttentionInput): Promise<Tensor> {
      out[input.layer] = (await backend.read(input.q)) as Float32Array;
      return inner.attend(input);
    },
    beginStep: (step: KvStep) => inner.beginStep(step),
    endStep: () => inner.endStep(),
    append: (input: KvAppendInput) => inner.append(input),
    endPrefill: () => inner.endPrefill(),
    memory: () => inner.memory(),
    stats: () => inner.stats(),
    dispose: () => inner.dispose(),
  };
  const logits = await model.forward(ids.slice(start), capture, { lastLogits: true });
  if (logits) backend.dispose(logits);
  inner.dispose();
  return out;
}
