// The dense prefill shared by the offloading policies: the prompt's own attention must equal full attention.
import type { KvAppendInput, KvCacheContext, LayerAttentionInput, Tensor } from '@shadowkv/core';

/** One layer's prefill state read back to the host at the end of prefill. */
export interface PrefillLayerData {
  /** Pre-RoPE keys, token-major [seqLen, nKvHeads*headDim] (the matrix ShadowKV decomposes); only if recorded. */
  kPre?: Float32Array;
  /** Post-RoPE keys, head-major [nKvHeads, maxSeqLen, headDim] (rows 0..seqLen valid). */
  keys: Float32Array;
  /** Values, head-major [nKvHeads, maxSeqLen, headDim] (rows 0..seqLen valid). */
  values: Float32Array;
}

/**
 * Dense K/V caches [nKvHeads, maxSeqLen, headDim] per layer, plus (for ShadowKV) the pre-RoPE keys as a
 * [1, maxSeqLen, nKvHeads*headDim] cache so that writeKv stores them token-major, exactly the SVD's row layout.
 */
export class PrefillCache {
  private readonly keys: (Tensor | undefined)[] = [];
  private readonly values: (Tensor | undefined)[] = [];
  private readonly kPre: (Tensor | undefined)[] = [];

  constructor(
    private readonly ctx: KvCacheContext,
    recordPreRope: boolean,
  ) {
    const { backend, model, maxSeqLen } = ctx;
    for (let l = 0; l < model.nLayers; l++) {
      this.keys.push(backend.zeros([model.nKvHeads, maxSeqLen, model.headDim]));
      this.values.push(backend.zeros([model.nKvHeads, maxSeqLen, model.headDim]));
      this.kPre.push(recordPreRope ? backend.zeros([1, maxSeqLen, model.nKvHeads * model.headDim]) : undefined);
    }
  }

  /** Stores the new tokens' K/V (and pre-RoPE K when recording). */
  record(input: KvAppendInput): void {
    const { backend } = this.ctx;
    const { layer, start } = input;
    backend.writeKv(this.keys[layer] as Tensor, input.k, start);
    backend.writeKv(this.values[layer] as Tensor, input.v, start);
    const kPre = this.kPre[layer];
    if (kPre) backend.writeKv(kPre, input.kPre, start);
  }

  /** Stores the new tokens and returns causal attention over positions 0..start+m, as the dense policy does. */
  attend(input: LayerAttentionInput): Tensor {
    const { backend, model } = this.ctx;
    const { layer, start, m } = input;
    this.record(input);
    return backend.attention(input.q, this.keys[layer] as Tensor, this.values[layer] as Tensor, {
      nHeads: model.nHeads,
      nKvHeads: model.nKvHeads,
      headDim: model.headDim,
      kvLen: start + m,
      causal: true,
      queryOffset: start,
      scale: 1 / Math.sqrt(model.headDim),
    });
  }

  /** Reads layer `layer` back to the host (waits for queued work). */
  async read(layer: number, seqLen: number): Promise<PrefillLayerData> {
    const { backend, model } = this.ctx;
    const keys = (await backend.read(this.keys[layer] as Tensor)) as Float32Array;
    const values = (await backend.read(this.values[layer] as Tensor)) as Float32Array;
    const pre = this.kPre[layer];
    const kPre = pre ? ((await backend.read(pre)) as Float32Array).subarray(0, seqLen * model.nKvHeads * model.headDim) : undefined;
    return { kPre, keys, values };
  }

  /** Hands over the post-RoPE key cache of `layer` (KCache keeps it); the caller then owns it. */
  takeKeys(layer: number): Tensor {
    const t = this.keys[layer] as Tensor;
    this.keys[layer] = undefined;
    return t;
  }

  /** Frees what is left of layer `layer`. */
  release(layer: number): void {
    for (const list of [this.keys, this.values, this.kPre]) {
      const t = list[layer];
      if (t) this.ctx.backend.dispose(t);
      list[layer] = undefined;
    }
  }

  /** Frees every layer. */
  dispose(): void {
    for (let l = 0; l < this.keys.length; l++) this.release(l);
  }
}
