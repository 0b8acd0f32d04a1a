// Layer-major prefill: the prompt goes through the model one layer at a time (every piece of the prompt at layer l,
// then layer l+1), so an offloading KV state can convert layer l as soon as it is filled (endPrefillLayer) and the
// fast side never holds more than one layer's dense prefill buffer. Same cuts and the same ops as the token-major
// chunked prefill, so the same K/V rows, outputs and logits.
import { GenerationAbortedError, InvalidOptionError, ShapeError, type KvCacheState, type Tensor } from '@shadowkv/core';
import { attentionInputs } from './attention-input.js';
import { layerTail } from './layer-tail.js';
import { yieldToEventLoop } from './event-loop-yield.js';
import type { LlamaModel } from './llama-model.js';

export interface LayerMajorPrefillOptions {
  /**
   * Prompt tokens per piece. The cuts are those of the engine's token-major prefill: pieces of `chunk` tokens
   * over all tokens but the last, then the last token alone (whose logits are returned).
   */
  chunk: number;
  /** Checked before every unit (one layer of one piece): an aborted signal throws GenerationAbortedError. */
  signal?: AbortSignal;
}

/** Whether `state` takes a layer-major prefill now: it offers endPrefillLayer and holds no tokens yet. */
export function takesLayerMajorPrefill(state: KvCacheState): boolean {
  return typeof state.endPrefillLayer === 'function' && state.phase === 'prefill' && state.seqLen === 0;
}

/** Piece boundaries of an n-token prompt: 0, chunk, 2·chunk, ... below n-1, then n-1 and n (the last token alone). */
export function prefillCuts(n: number, chunk: number): number[] {
  const cuts: number[] = [];
  for (let s = 0; s < n - 1; s += chunk) cuts.push(s);
  cuts.push(n - 1, n);
  return cuts;
}

/**
 * A resumable layer-major prefill of one prompt into one fresh state: `step()` runs one unit (one layer of one
 * piece) so that a scheduler can interleave units with decode steps; `run()` runs them all. The hidden rows of the
 * whole prompt between layers live on the host (one Float32Array per piece, read back after a piece's layer and
 * uploaded for the next): on wasm they would otherwise take nLayers-independent but prompt-sized room in the
 * 4 GiB memory, and they are a few bytes per token next to the KV state. The state's step spans the prompt
 * (`beginStep({ start: 0, m: n, layerMajor: true })`), each layer's pieces arrive in order, endPrefillLayer(l)
 * follows layer l's last piece and endStep the last unit; endPrefill is left to the caller, as after forward().
 */
export class LayerMajorPrefill {
  private readonly cuts: number[];
  /** Per piece: its input rows [m, hidden] for the layer being run (host), set once layer 0 has run it. */
  private readonly hidden: (Float32Array | undefined)[];
  private unit = 0;
  private lastLogits: Float32Array | undefined;
  private failed = false;
  /** Units (layer × piece) in all. */
  readonly units: number;

  constructor(
    private readonly model: LlamaModel,
    private readonly ids: ArrayLike<number>,
    private readonly state: KvCacheState,
    private readonly opts: LayerMajorPrefillOptions,
  ) {
    const n = ids.length;
    if (!Number.isInteger(opts.chunk) || opts.chunk < 1) throw new InvalidOptionError('prefillChunkSize', `must be an integer >= 1, got ${opts.chunk}`);
    model.checkContext(n, 'the prompt');
    this.cuts = n > 0 ? prefillCuts(n, opts.chunk) : [];
    this.hidden = new Array<Float32Array | undefined>(Math.max(0, this.cuts.length - 1)).fill(undefined);
    this.units = model.config.nLayers * this.hidden.length;
  }

  get done(): boolean {
    return this.unit >= this.units;
  }

  /** Prompt tokens accounted done so far, for progress: n × units done / units (n when done). */
  get tokensDone(): number {
    return this.units === 0 ? 0 : Math.floor((this.ids.length * this.unit) / this.units);
  }

  /** Rows of the next unit's piece (0 when done): what a scheduler budgets a step's prefill work by. */
  get nextUnitTokens(): number {
    if (this.done) return 0;
    const i = this.unit % this.hidden.length;
    return this.cuts[i + 1] - this.cuts[i];
  }

  /** The last prompt token's logits [vocab] (after the last unit). */
  get logits(): Float32Array {
    if (!this.lastLogits) throw new ShapeError('LayerMajorPrefill.logits', 'the logits are read after the last unit (done)');
    return this.lastLogits;
  }

  /** Runs every remaining unit; returns the last prompt token's logits. `onProgress(tokensDone, n)` after each unit. */
  async run(onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
    while (!this.done) {
      await this.step();
      onProgress?.(this.tokensDone, this.ids.length);
    }
    return this.logits;
  }

  /**
   * One unit: piece i at layer l (attention inputs, dense causal attention through the state against layer l's
   * rows so far, the layer's tail), then endPrefillLayer after a layer's last piece. Yields to the event loop
   * first and checks the signal, like forward().
   */
  async step(): Promise<void> {
    if (this.done) return;
    if (this.failed) throw new ShapeError('LayerMajorPrefill.step', 'a previous unit failed; dispose the state and start again');
    await yieldToEventLoop();
    if (this.opts.signal?.aborted) throw new GenerationAbortedError();
    try {
      await this.runUnit();
    } catch (err) {
      this.failed = true;
      this.hidden.fill(undefined);
      throw err;
    }
  }

  private async runUnit(): Promise<void> {
    const { backend, config: c, rope } = this.model;
    const w = this.model.batchWeights();
    const pieces = this.hidden.length;
    const l = Math.floor(this.unit / pieces);
    const i = this.unit % pieces;
    const start = this.cuts[i];
    const m = this.cuts[i + 1] - start;
    if (this.unit === 0) this.state.beginStep({ start: 0, m: this.ids.length, layerMajor: true });
    let x: Tensor;
    if (l === 0) {
      const idsT = backend.upload(Int32Array.from(Array.prototype.slice.call(this.ids, start, start + m) as number[]), [m], 'i32');
      x = backend.embedding(w.embed, idsT); // [m, hidden]
      backend.dispose(idsT);
    } else {
      x = backend.upload(this.hidden[i] as Float32Array, [m, c.hiddenSize]);
      this.hidden[i] = undefined;
    }
    const positions = new Int32Array(m);
    for (let t = 0; t < m; t++) positions[t] = start + t;
    const posT = backend.upload(positions, [m], 'i32');
    const lw = w.layers[l];
    const { q, kPre, k, v } = attentionInputs(backend, x, lw, posT, c, rope);
    backend.dispose(posT);
    let att: Tensor;
    try {
      att = await this.state.attend({ layer: l, start, m, q, kPre, k, v });
    } finally {
      for (const t of [q, kPre, k, v]) backend.dispose(t);
    }
    const lastPiece = i === pieces - 1;
    if (l === c.nLayers - 1 && !lastPiece) {
      // The last layer's output of a piece before the last token feeds nothing (forward() computes and drops it).
      backend.dispose(att);
      backend.dispose(x);
    } else x = layerTail(backend, att, x, lw, c.rmsNormEps); // disposes att and the input rows
    if (l < c.nLayers - 1) {
      this.hidden[i] = (await backend.read(x)) as Float32Array;
      backend.dispose(x);
    } else if (lastPiece) {
      // The last token (a piece of its own): final norm and LM head, as forward() with lastLogits on one row.
      const normed = backend.rmsNorm(x, w.finalNorm, c.rmsNormEps);
      backend.dispose(x);
      const logitsT = backend.matmul(normed, w.lmHead); // [1, vocab]
      backend.dispose(normed);
      this.lastLogits = (await backend.read(logitsT)) as Float32Array;
      backend.dispose(logitsT);
    }
    if (lastPiece) await this.state.endPrefillLayer?.(l);
    this.unit++;
    if (this.done) this.state.endStep();
  }
}
