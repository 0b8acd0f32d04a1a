// Runs a prompt into a KV state and returns the last token's logits: layer-major where the state converts layer
// by layer (the offloading policies: one layer's dense buffer on the fast side at a time), token-major chunks
// otherwise (dense, a session recording its history, a state that already holds tokens). Same cuts either way
// (pieces of `chunk` tokens, then the last token alone), so the same logits and state.
import { GenerationAbortedError, type KvCacheState } from '@shadowkv/core';
import { LayerMajorPrefill, takesLayerMajorPrefill, type LlamaModel } from '@shadowkv/model-llama';

export interface PrefillPromptOptions {
  /** Prompt tokens per piece (a token-major forward call, or a layer-major unit's rows). */
  chunk: number;
  signal?: AbortSignal;
  /** (tokens done, prompt tokens): after every chunk (token-major) or every unit (layer-major), then (n, n). */
  onProgress?: (done: number, total: number) => void;
}

/** Feeds `ids` (at least one token) into `state` at its seqLen; endPrefill is left to the caller. */
export async function prefillPrompt(model: LlamaModel, state: KvCacheState, ids: number[], o: PrefillPromptOptions): Promise<Float32Array> {
  const { backend } = model;
  if (takesLayerMajorPrefill(state)) {
    const logits = await new LayerMajorPrefill(model, ids, state, { chunk: o.chunk, signal: o.signal }).run(o.onProgress);
    return logits;
  }
  const body = ids.length - 1;
  for (let s = 0; s < body; s += o.chunk) {
    if (o.signal?.aborted) throw new GenerationAbortedError();
    await model.forward(ids.slice(s, Math.min(body, s + o.chunk)), state, { signal: o.signal });
    await backend.sync();
    o.onProgress?.(Math.min(body, s + o.chunk), ids.length);
  }
  const t = await model.forward([ids[ids.length - 1]], state, { lastLogits: true, signal: o.signal });
  const logits = (await backend.read(t!)) as Float32Array;
  backend.dispose(t!);
  o.onProgress?.(ids.length, ids.length);
  return logits;
}
