// One forward pass over several sequences at once (continuous batching): the embedding, norms, projections and
// MLP see every sequence's new rows as one [M, hidden] matrix; attention runs per sequence through its own state.
import { GenerationAbortedError, InvalidOptionError, type KernelBackend, type KvCacheState, type Tensor } from '@shadowkv/core';
import { yieldToEventLoop } from './event-loop-yield.js';
import { layerTail } from './layer-tail.js';
import type { LlamaModel } from './llama-model.js';

/** One sequence's part of a batched step: its new tokens, its state, and whether its last row's logits are wanted. */
export interface BatchSequence {
  ids: ArrayLike<number>;
  state: KvCacheState;
  /** Return the logits of this sequence's last new row (a decode step, or the chunk that ends a prefill). */
  lastLogits?: boolean;
}

export interface BatchForwardOptions {
  /** Checked after the pass yields to the event loop: an aborted signal throws GenerationAbortedError. */
  signal?: AbortSignal;
}

export interface BatchForwardResult {
  /**
   * Logits [rows, vocab], one row per sequence that asked for them, in the order of the input; null when none
   * asked. The caller disposes it.
   */
  logits: Tensor | null;
  /** For each input sequence, its row in `logits`, or -1. */
  logitsRow: number[];
}

/**
 * Runs every sequence's new tokens (positions state.seqLen..) through `model` in one pass. Each sequence's
 * values equal those of `model.forward` on that sequence alone: the row-wise ops do not mix rows (the CPU
 * reference computes a row of a matmul the same way whatever m is), and attention is per sequence.
 * Every state is announced its step (beginStep/endStep) like model.forward does.
 */
export async function forwardBatch(model: LlamaModel, seqs: readonly BatchSequence[], opts: BatchForwardOptions = {}): Promise<BatchForwardResult> {
  if (seqs.length === 0) throw new InvalidOptionError('seqs', 'a batched forward needs at least one sequence');
  const states = new Set<KvCacheState>();
  for (const [i, s] of seqs.entries()) {
    if (s.ids.length === 0) throw new InvalidOptionError(`seqs[${i}].ids`, 'each sequence of a batched step needs at least one new token');
    if (states.has(s.state)) throw new InvalidOptionError(`seqs[${i}].state`, 'the same KV state appears twice in one batched step; give each sequence its own state');
    states.add(s.state);
    model.checkContext(s.state.seqLen + s.ids.length, `sequence ${i} of the batch`);
  }
  const { backend, config: c } = model;
  const w = model.batchWeights();
  await yieldToEventLoop();
  if (opts.signal?.aborted) throw new GenerationAbortedError();

  // Row layout: sequence i owns rows offsets[i]..offsets[i]+m_i of every [M, *] activation.
  const offsets: number[] = [];
  let total = 0;
  for (const s of seqs) {
    offsets.push(total);
    total += s.ids.length;
  }
  const ids = new Int32Array(total);
  const positions = new Int32Array(total);
  seqs.forEach((s, i) => {
    for (let j = 0; j < s.ids.length; j++) {
      ids[offsets[i] + j] = s.ids[j];
      positions[offsets[i] + j] = s.state.seqLen + j;
    }
  });
  const single = seqs.length === 1;
  // Row indices of each sequence (embedding is a row gather on the device); not needed for one sequence.
  const rowIdx = single ? [] : seqs.map((s, i) => backend.upload(Int32Array.from({ length: s.ids.length }, (_, j) => offsets[i] + j), [s.ids.length], 'i32'));
  const idsT = backend.upload(ids, [total], 'i32');
  const posT = backend.upload(positions, [total], 'i32');
  let x = backend.embedding(w.embed, idsT); // [M, hidden]
  backend.dispose(idsT);
  const starts = seqs.map((s) => s.state.seqLen);
  seqs.forEach((s, i) => s.state.beginStep({ start: starts[i], m: s.ids.length }));
  try {
    for (let l = 0; l < c.nLayers; l++) {
      const lw = w.layers[l];
      const h = backend.rmsNorm(x, lw.attnNorm, c.rmsNormEps);
      const q = backend.matmul(h, lw.wq);
      const kPre = backend.matmul(h, lw.wk);
      const v = backend.matmul(h, lw.wv);
      backend.dispose(h);
      const qr = backend.rope(q, posT, c.nHeads, model.rope);
      const kr = backend.rope(kPre, posT, c.nKvHeads, model.rope);
      backend.dispose(q);
      let att: Tensor; // [M, nHeads*headDim]
      if (single) {
        att = await seqs[0].state.attend({ layer: l, start: starts[0], m: total, q: qr, kPre, k: kr, v });
      } else {
        const parts: Tensor[] = [];
        for (const [i, s] of seqs.entries()) {
          const r = rowIdx[i];
          const sq = backend.embedding(qr, r);
          const sPre = backend.embedding(kPre, r);
          const sk = backend.embedding(kr, r);
          const sv = backend.embedding(v, r);
          parts.push(await s.state.attend({ layer: l, start: starts[i], m: s.ids.length, q: sq, kPre: sPre, k: sk, v: sv }));
          for (const t of [sq, sPre, sk, sv]) backend.dispose(t);
        }
        att = await concatRows(backend, parts);
        for (const t of parts) backend.dispose(t);
      }
      for (const t of [qr, kPre, kr, v]) backend.dispose(t);
      x = layerTail(backend, att, x, lw, c.rmsNormEps);
    }
  } finally {
    backend.dispose(posT);
    for (const t of rowIdx) backend.dispose(t);
  }
  for (const s of seqs) s.state.endStep();

  const logitsRow = seqs.map(() => -1);
  const wanted: number[] = [];
  seqs.forEach((s, i) => {
    if (s.lastLogits) {
      logitsRow[i] = wanted.length;
      wanted.push(offsets[i] + s.ids.length - 1);
    }
  });
  if (wanted.length === 0) {
    backend.dispose(x);
    return { logits: null, logitsRow };
  }
  if (wanted.length !== total) {
    // Only some rows need logits: gather them (a row gather) instead of an [M, vocab] product.
    const idx = backend.upload(Int32Array.from(wanted), [wanted.length], 'i32');
    const rows = backend.embedding(x, idx);
    backend.dispose(idx);
    backend.dispose(x);
    x = rows;
  }
  const normed = backend.rmsNorm(x, w.finalNorm, c.rmsNormEps);
  backend.dispose(x);
  const logits = backend.matmul(normed, w.lmHead);
  backend.dispose(normed);
  return { logits, logitsRow };
}

/**
 * Stacks [m_i, n] tensors into one [sum m_i, n]: on the device with the backend's optional writeRows, else
 * through the host (read + upload: a copy on CPU backends, a read-back per layer on GPU backends without it).
 */
async function concatRows(backend: KernelBackend, parts: readonly Tensor[]): Promise<Tensor> {
  const n = parts[0].shape[1];
  const rows = parts.reduce((a, t) => a + t.shape[0], 0);
  if (backend.writeRows) {
    const out = backend.zeros([rows, n]);
    let start = 0;
    for (const t of parts) {
      backend.writeRows(out, t, start);
      start += t.shape[0];
    }
    return out;
  }
  const out = new Float32Array(rows * n);
  let at = 0;
  for (const t of parts) {
    const data = (await backend.read(t)) as Float32Array;
    out.set(data, at);
    at += data.length;
  }
  return backend.upload(out, [rows, n], 'f32');
}
