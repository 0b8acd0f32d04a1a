// The one dense K/V buffer: serves the dense policy, the dense prefill of the offloading policies and prefill recordings.
import { KvCapacityError, ShapeError, type KvAppendInput, type KvCacheContext, type KvModelShape, type LayerAttentionInput, type Tensor } from '@shadowkv/core';

/** Bytes full attention holds for `seqLen` tokens: K and V of every layer, f32 (KvMemoryReport.denseBytes). */
export function denseKvBytes(model: KvModelShape, seqLen: number): number {
  return 2 * model.nLayers * model.nKvHeads * model.headDim * 4 * seqLen;
}

/** One layer's buffer contents read back to the host. */
export interface DenseLayerData {
  /** Pre-RoPE keys, token-major [seqLen, nKvHeads*headDim] (the matrix ShadowKV decomposes); only if recorded. */
  kPre?: Float32Array;
  /** Post-RoPE keys, head-major [nKvHeads, maxSeqLen, headDim] (rows 0..seqLen valid). */
  keys: Float32Array;
  /** Values, head-major [nKvHeads, maxSeqLen, headDim] (rows 0..seqLen valid). */
  values: Float32Array;
}

export interface DenseKvBufferOptions {
  /** Also keep the pre-RoPE keys (ShadowKV's SVD input, and what a prefill recording stores). Default false. */
  preRopeKeys?: boolean;
  /**
   * Allocate each layer at its first write instead of all at creation (default false): a layer-major prefill
   * then holds one layer's buffer at a time (the offloading states release each layer once converted).
   */
  lazy?: boolean;
}

/**
 * Dense K/V caches [nKvHeads, maxSeqLen, headDim] per layer, plus (optionally) the pre-RoPE keys as a
 * [1, maxSeqLen, nKvHeads*headDim] cache so that writeKv stores them token-major, exactly the SVD's row layout.
 */
export class DenseKvBuffer {
  private readonly keys: (Tensor | undefined)[] = [];
  private readonly values: (Tensor | undefined)[] = [];
  private readonly kPre: (Tensor | undefined)[] = [];
  /**
   * Pre-RoPE keys kept on the host instead, token-major [maxSeqLen, nKvHeads*headDim], for a layer allocated by a
   * write with `preRopeOnHost` (a layer-major prefill: only the SVD on the host reads them, so the fast side holds
   * one layer's K and V, not 1.5x that).
   */
  private readonly kPreHost: (Float32Array | undefined)[] = [];
  /** Per layer: allocated and not released; released for good; the end of the highest rows written. */
  private readonly live: boolean[] = [];
  private readonly released: boolean[] = [];
  private readonly rows: number[] = [];
  /** Whether pre-RoPE keys are kept (false after dropPreRopeKeys). */
  preRopeKeys: boolean;

  constructor(
    private readonly ctx: KvCacheContext,
    opts: DenseKvBufferOptions = {},
  ) {
    const { model } = ctx;
    this.preRopeKeys = opts.preRopeKeys ?? false;
    for (let l = 0; l < model.nLayers; l++) {
      this.keys.push(undefined);
      this.values.push(undefined);
      this.kPre.push(undefined);
      this.kPreHost.push(undefined);
      this.live.push(false);
      this.released.push(false);
      this.rows.push(0);
      if (!opts.lazy) this.allocate(l, false);
    }
  }

  private allocate(layer: number, preRopeOnHost: boolean): void {
    const { backend, model, maxSeqLen } = this.ctx;
    this.keys[layer] = backend.zeros([model.nKvHeads, maxSeqLen, model.headDim]);
    this.values[layer] = backend.zeros([model.nKvHeads, maxSeqLen, model.headDim]);
    const onHost = this.preRopeKeys && preRopeOnHost;
    this.kPre[layer] = this.preRopeKeys && !onHost ? backend.zeros([1, maxSeqLen, model.nKvHeads * model.headDim]) : undefined;
    this.kPreHost[layer] = onHost ? new Float32Array(maxSeqLen * model.nKvHeads * model.headDim) : undefined;
    this.live[layer] = true;
  }

  /** Fast-side bytes of `seqLen` stored tokens over the layers held (f32 K and V, and pre-RoPE K kept on the fast side). */
  bytes(seqLen: number): number {
    const per = denseKvBytes(this.ctx.model, seqLen) / this.ctx.model.nLayers / 2; // K or V of one layer
    let bytes = 0;
    for (let l = 0; l < this.live.length; l++) if (this.live[l]) bytes += per * (this.kPre[l] ? 3 : 2);
    return bytes;
  }

  /** Fast-side bytes of the rows written so far in the layers held (a layer-major prefill fills one layer at a time). */
  writtenBytes(): number {
    const per = denseKvBytes(this.ctx.model, 1) / this.ctx.model.nLayers / 2;
    let bytes = 0;
    for (let l = 0; l < this.live.length; l++) if (this.live[l]) bytes += this.rows[l] * per * (this.kPre[l] ? 3 : 2);
    return bytes;
  }

  /**
   * Stores the new tokens' K/V (and pre-RoPE K when kept). With `preRopeOnHost` a layer allocated by this write keeps
   * its pre-RoPE keys on the host: the rows are read back, and the returned promise settles once they are copied
   * (await it before freeing input.kPre). Otherwise synchronous.
   */
  write(input: KvAppendInput, opts: { preRopeOnHost?: boolean } = {}): void | Promise<void> {
    const { backend, maxSeqLen } = this.ctx;
    const { layer, start, m } = input;
    if (start + m > maxSeqLen) throw new KvCapacityError('dense K/V buffer', start + m, maxSeqLen);
    if (!this.live[layer]) {
      if (this.released[layer]) throw new ShapeError('DenseKvBuffer.write', `layer ${layer} was released (converted); it takes no more prompt tokens`);
      this.allocate(layer, Boolean(opts.preRopeOnHost));
    }
    this.rows[layer] = Math.max(this.rows[layer], start + m);
    // One launch for both where the backend fuses them (writeKvPair), two writeKv otherwise.
    if (backend.writeKvPair) backend.writeKvPair(this.keys[layer] as Tensor, this.values[layer] as Tensor, input.k, input.v, start);
    else {
      backend.writeKv(this.keys[layer] as Tensor, input.k, start);
      backend.writeKv(this.values[layer] as Tensor, input.v, start);
    }
    const kPre = this.kPre[layer];
    if (kPre) backend.writeKv(kPre, input.kPre, start);
    const host = this.kPreHost[layer];
    if (host) {
      const width = this.ctx.model.nKvHeads * this.ctx.model.headDim;
      return backend.read(input.kPre).then((rows) => host.set(rows as Float32Array, start * width));
    }
  }

  /**
   * Stores the new tokens and returns causal attention over positions 0..start+m (full attention); a promise when
   * the write reads pre-RoPE keys back to the host (`preRopeOnHost`), settled once they are copied.
   */
  attend(input: LayerAttentionInput): Tensor;
  attend(input: LayerAttentionInput, opts: { preRopeOnHost?: boolean }): Tensor | Promise<Tensor>;
  attend(input: LayerAttentionInput, opts: { preRopeOnHost?: boolean } = {}): Tensor | Promise<Tensor> {
    const { backend, model } = this.ctx;
    const { layer, start, m } = input;
    const copied = this.write(input, opts);
    const out = backend.attention(input.q, this.keys[layer] as Tensor, this.values[layer] as Tensor, {
      nHeads: model.nHeads,
      nKvHeads: model.nKvHeads,
      headDim: model.headDim,
      kvLen: start + m,
      causal: true,
      queryOffset: start,
      scale: 1 / Math.sqrt(model.headDim),
    });
    return copied ? copied.then(() => out) : out;
  }

  /** Reads layer `layer` back to the host (waits for queued work). */
  async read(layer: number, seqLen: number): Promise<DenseLayerData> {
    const { backend, model } = this.ctx;
    const keys = (await backend.read(this.keys[layer] as Tensor)) as Float32Array;
    const values = (await backend.read(this.values[layer] as Tensor)) as Float32Array;
    const pre = this.kPre[layer];
    const width = model.nKvHeads * model.headDim;
    const host = this.kPreHost[layer];
    const kPre = pre ? ((await backend.read(pre)) as Float32Array).subarray(0, seqLen * width) : host?.subarray(0, seqLen * width);
    return { kPre, keys, values };
  }

  /** Hands over the post-RoPE key cache of `layer` (KCache keeps it); the caller then owns it. */
  takeKeys(layer: number): Tensor {
    const t = this.keys[layer] as Tensor;
    this.keys[layer] = undefined;
    return t;
  }

  /** Frees the pre-RoPE key caches and stops keeping them (a state that stays dense has no use for them). */
  dropPreRopeKeys(): void {
    for (let l = 0; l < this.kPre.length; l++) {
      const t = this.kPre[l];
      if (t) this.ctx.backend.dispose(t);
      this.kPre[l] = undefined;
      this.kPreHost[l] = undefined;
    }
    this.preRopeKeys = false;
  }

  /** Frees what is left of layer `layer`; a released layer takes no more writes. */
  release(layer: number): void {
    for (const list of [this.keys, this.values, this.kPre]) {
      const t = list[layer];
      if (t) this.ctx.backend.dispose(t);
      list[layer] = undefined;
    }
    this.kPreHost[layer] = undefined;
    this.live[layer] = false;
    this.released[layer] = true;
  }

  /** Frees every layer. */
  dispose(): void {
    for (let l = 0; l < this.keys.length; l++) this.release(l);
  }
}

/** Rows 0..seqLen of a head-major [nKvHeads, capacity, headDim] array as token-major [seqLen, nKvHeads*headDim]. */
export function headMajorToTokenMajor(src: Float32Array, nKvHeads: number, capacity: number, headDim: number, seqLen: number): Float32Array {
  const out = new Float32Array(seqLen * nKvHeads * headDim);
  for (let t = 0; t < seqLen; t++) {
    for (let h = 0; h < nKvHeads; h++) out.set(src.subarray((h * capacity + t) * headDim, (h * capacity + t + 1) * headDim), (t * nKvHeads + h) * headDim);
  }
  return out;
}
