// The Llama forward pass (embedding, RMSNorm, RoPE, GQA attention through a KV cache policy,
// SwiGLU MLP, LM head), written against the KernelBackend interface so any backend runs it.
import { bytesPerElement, ContextLengthError, GenerationAbortedError, type KernelBackend, type KvCacheState, type RopeSpec, type Tensor } from '@shadowkv/core';
import { openModelWeights } from '#model-files';
import { loadLlamaConfig, type LlamaConfig } from './config.js';
import { attentionInputs } from './attention-input.js';
import { layerTail } from './layer-tail.js';
import { yieldToEventLoop } from './event-loop-yield.js';
import { checkFiniteWeights } from './weight-finite.js';
import { ropeSpecFromConfig } from './rope-spec.js';
import type { WeightSource } from './weight-source.js';
import { validateLlamaWeights } from './weight-source-validate.js';
import { checkWeightsDtype, placeWeight, readWeight, storedWeightsDtype, type WeightsDtype, type WeightsPlacement } from './weight-dtype.js';

/** One layer's weight tensors on the backend. */
export interface LayerWeights {
  attnNorm: Tensor; // [hidden]
  wq: Tensor; // [nHeads*headDim, hidden]
  wk: Tensor; // [nKvHeads*headDim, hidden]
  wv: Tensor; // [nKvHeads*headDim, hidden]
  wo: Tensor; // [hidden, nHeads*headDim]
  mlpNorm: Tensor; // [hidden]
  wGate: Tensor; // [intermediate, hidden]
  wUp: Tensor; // [intermediate, hidden]
  wDown: Tensor; // [hidden, intermediate]
}

export interface LoadProgress {
  /** Tensors loaded so far and in total. */
  done: number;
  total: number;
  name: string;
}

export interface LoadModelOptions {
  backend: KernelBackend;
  onProgress?: (p: LoadProgress) => void;
  /**
   * Dtype of the weight matrices on the backend (embedding, projections, LM head; norms stay f32). Default: the
   * checkpoint's own dtype. 16-bit dtypes are kept only where the backend lists them in
   * `capabilities.weightDtypes`; otherwise the weights are widened to f32 (`model.weights.note` says so).
   */
  weightsDtype?: WeightsDtype;
}

export interface ForwardOptions {
  /** Return logits for every row ([m, vocab]) instead of none. */
  allLogits?: boolean;
  /** Return logits of the last row only ([1, vocab]); computed on that row alone. */
  lastLogits?: boolean;
  /** Observes hidden states: after the embedding (0) and after each layer (1..nLayers, the last one after the final norm). */
  onHidden?: (index: number, hidden: Tensor) => void | Promise<void>;
  /** Checked after the forward pass yields to the event loop: an aborted signal throws GenerationAbortedError. */
  signal?: AbortSignal;
}

export class LlamaModel {
  private constructor(
    readonly dir: string,
    readonly config: LlamaConfig,
    readonly rope: RopeSpec,
    readonly backend: KernelBackend,
    private readonly embed: Tensor, // [vocab, hidden]
    private readonly layers: LayerWeights[],
    private readonly finalNorm: Tensor, // [hidden]
    private readonly lmHead: Tensor, // [vocab, hidden]
    /** How the weight matrices were placed on the backend (dtype, bytes, and why when widened). */
    readonly weights: WeightsPlacement,
  ) {}

  /**
   * Loads config.json and the safetensors weights of a Hugging Face Llama directory onto `backend`
   * (in browsers `dir` is a folder URL and the files are fetched). Uses fromSource.
   */
  static async load(dir: string, opts: LoadModelOptions): Promise<LlamaModel> {
    const config = await loadLlamaConfig(dir);
    const source = await openModelWeights(dir);
    try {
      return await LlamaModel.fromSource(dir, config, source, opts);
    } finally {
      await source.close();
    }
  }

  /**
   * Builds the model from a parsed config and any WeightSource (files, HTTP, your own), validating the
   * weights against the config first. `dir` names the model in messages. The source is not closed.
   */
  static async fromSource(dir: string, config: LlamaConfig, source: WeightSource, opts: LoadModelOptions): Promise<LlamaModel> {
    validateLlamaWeights(source, config);
    const requested = checkWeightsDtype(opts.weightsDtype);
    const names = weightNames(config, source);
    let done = 0;
    let matrixBytes = 0;
    let matrixDtype: WeightsDtype | undefined;
    let note: string | undefined;
    // Matrices (embedding, projections, LM head) take the weights dtype; norm vectors stay f32.
    const load = async (name: string, matrix = true): Promise<Tensor> => {
      const info = source.info(name);
      const placed = matrix ? placeWeight(info, requested, opts.backend) : { dtype: 'f32' as const };
      const data = await readWeight(source, info, placed.dtype);
      checkFiniteWeights(data, placed.dtype, info);
      const t = opts.backend.upload(data, info.shape, placed.dtype);
      if (matrix) {
        matrixDtype ??= placed.dtype;
        note ??= placed.note;
        matrixBytes += info.shape.reduce((a, b) => a * b, 1) * bytesPerElement(placed.dtype);
      }
      opts.onProgress?.({ done: ++done, total: names.length, name });
      return t;
    };
    const embed = await load('model.embed_tokens.weight');
    const layers: LayerWeights[] = [];
    for (let l = 0; l < config.nLayers; l++) {
      const p = `model.layers.${l}.`;
      layers.push({
        attnNorm: await load(`${p}input_layernorm.weight`, false),
        wq: await load(`${p}self_attn.q_proj.weight`),
        wk: await load(`${p}self_attn.k_proj.weight`),
        wv: await load(`${p}self_attn.v_proj.weight`),
        wo: await load(`${p}self_attn.o_proj.weight`),
        mlpNorm: await load(`${p}post_attention_layernorm.weight`, false),
        wGate: await load(`${p}mlp.gate_proj.weight`),
        wUp: await load(`${p}mlp.up_proj.weight`),
        wDown: await load(`${p}mlp.down_proj.weight`),
      });
    }
    const finalNorm = await load('model.norm.weight', false);
    const lmHead = source.has('lm_head.weight') && !config.tieWordEmbeddings ? await load('lm_head.weight') : embed;
    const checkpoint = storedWeightsDtype(source.info('model.embed_tokens.weight'));
    const weights: WeightsPlacement = { requested, checkpoint, dtype: matrixDtype ?? 'f32', bytes: matrixBytes, ...(note ? { note } : {}) };
    return new LlamaModel(dir, config, ropeSpecFromConfig(config), opts.backend, embed, layers, finalNorm, lmHead, weights);
  }

  /**
   * Positions the model accepts: max_position_embeddings unless raised on purpose (speed runs past the
   * trained context, where RoPE extrapolates and quality is untested).
   */
  contextLimit: number = 0;

  /** Checks that `total` tokens fit the model's context. */
  checkContext(total: number, what: string): void {
    const limit = this.contextLimit || this.config.maxPositionEmbeddings;
    if (total > limit) {
      throw new ContextLengthError(
        `${what} needs ${total} positions but the model allows ${limit} (max_position_embeddings in ${this.dir}/config.json); shorten the prompt or lower maxNewTokens`,
      );
    }
  }

  /**
   * Runs m tokens at positions state.seqLen.. through the model, storing their K/V in `state`.
   * Returns logits as asked in `opts` ([m, vocab], [1, vocab]) or null.
   */
  async forward(ids: ArrayLike<number>, state: KvCacheState, opts: ForwardOptions = {}): Promise<Tensor | null> {
    const { backend, config: c } = this;
    const m = ids.length;
    const start = state.seqLen;
    this.checkContext(start + m, 'the sequence');
    // Each call (a prefill chunk, a decode step) first lets timers and I/O run, so AbortSignal.timeout and
    // other requests are served during a long generation; with opts.signal an abort stops before any compute.
    await yieldToEventLoop();
    if (opts.signal?.aborted) throw new GenerationAbortedError();
    const idsT = backend.upload(Int32Array.from(ids), [m], 'i32');
    const positions = new Int32Array(m);
    for (let i = 0; i < m; i++) positions[i] = start + i;
    const posT = backend.upload(positions, [m], 'i32');
    let x = backend.embedding(this.embed, idsT); // [m, hidden]
    backend.dispose(idsT);
    await opts.onHidden?.(0, x);
    const lastRowOnly = !opts.allLogits && opts.lastLogits;
    // The model owns the positions: the state learns where this step starts and how long it is from here.
    state.beginStep({ start, m });
    for (let l = 0; l < c.nLayers; l++) {
      const w = this.layers[l];
      // Norm, q/k/v projections, RoPE (fused when the backend offers it): q, k rotated; kPre, v [m, nKvHeads*headDim].
      const { q: qr, kPre, k: kr, v } = attentionInputs(backend, x, w, posT, c, this.rope);
      const att = await state.attend({ layer: l, start, m, q: qr, kPre, k: kr, v }); // [m, nHeads*headDim]
      for (const t of [qr, kPre, kr, v]) backend.dispose(t);
      x = layerTail(backend, att, x, w, c.rmsNormEps); // [m, hidden]
      if (opts.onHidden && l < c.nLayers - 1) await opts.onHidden(l + 1, x);
    }
    state.endStep();
    backend.dispose(posT);
    if (!opts.allLogits && !opts.lastLogits) {
      if (opts.onHidden) {
        const normed = backend.rmsNorm(x, this.finalNorm, c.rmsNormEps);
        await opts.onHidden(c.nLayers, normed);
        backend.dispose(normed);
      }
      backend.dispose(x);
      return null;
    }
    if (lastRowOnly && m > 1) {
      // Only the last row's logits are needed: gather that row on the device (embedding is a row gather)
      // instead of an [m, vocab] product or a read-back.
      const lastIdx = backend.upload(Int32Array.of(m - 1), [1], 'i32');
      const last = backend.embedding(x, lastIdx);
      backend.dispose(lastIdx);
      backend.dispose(x);
      x = last;
    }
    const normed = backend.rmsNorm(x, this.finalNorm, c.rmsNormEps);
    backend.dispose(x);
    await opts.onHidden?.(c.nLayers, normed);
    const logits = backend.matmul(normed, this.lmHead); // [rows, vocab]
    backend.dispose(normed);
    return logits;
  }

  /** The weight tensors, for the batched forward pass (batch-forward.ts), which reads them and frees none. */
  batchWeights(): { embed: Tensor; layers: readonly LayerWeights[]; finalNorm: Tensor; lmHead: Tensor } {
    return { embed: this.embed, layers: this.layers, finalNorm: this.finalNorm, lmHead: this.lmHead };
  }

  /** Number of parameters (for reports). */
  parameterCount(): number {
    const c = this.config;
    const attn = c.hiddenSize * (c.nHeads * c.headDim) * 2 + c.hiddenSize * (c.nKvHeads * c.headDim) * 2;
    const mlp = 3 * c.hiddenSize * c.intermediateSize;
    const perLayer = attn + mlp + 2 * c.hiddenSize;
    const head = this.lmHead === this.embed ? 0 : c.vocabSize * c.hiddenSize;
    return c.vocabSize * c.hiddenSize + c.nLayers * perLayer + c.hiddenSize + head;
  }

  /**
   * Bytes of weights one decode step reads: every projection of every layer and the LM head (the embedding
   * reads one row). The numerator of the memory-bandwidth floor of decode.
   */
  decodeWeightBytes(): number {
    const c = this.config;
    const per = bytesPerElement(this.weights.dtype);
    const attn = c.hiddenSize * (c.nHeads * c.headDim) * 2 + c.hiddenSize * (c.nKvHeads * c.headDim) * 2;
    const mlp = 3 * c.hiddenSize * c.intermediateSize;
    return (c.nLayers * (attn + mlp) + c.vocabSize * c.hiddenSize) * per;
  }

  /** Frees the weights. */
  dispose(): void {
    const ts = [this.embed, this.finalNorm, ...this.layers.flatMap((l) => Object.values(l) as Tensor[])];
    if (this.lmHead !== this.embed) ts.push(this.lmHead);
    for (const t of ts) this.backend.dispose(t);
  }
}

function weightNames(c: LlamaConfig, src: WeightSource): string[] {
  const names = ['model.embed_tokens.weight', 'model.norm.weight'];
  for (let l = 0; l < c.nLayers; l++) {
    for (const s of ['input_layernorm', 'post_attention_layernorm', 'self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) {
      names.push(`model.layers.${l}.${s}.weight`);
    }
  }
  if (src.has('lm_head.weight') && !c.tieWordEmbeddings) names.push('lm_head.weight');
  return names;
}
