// A session's host-side log of every stored token's pre-RoPE keys and values, and its replay into a fresh state.
// Every policy's state is a deterministic function of these rows and of where the prompt ended (endPrefill), so
// the log is what truncate, fork and saved sessions rebuild a state from, whatever the policy.
import type { KernelBackend, KvCacheState, KvStep, LayerAttentionInput, RopeSpec, Tensor, KvAppendInput } from '@shadowkv/core';
import { ShapeError } from '@shadowkv/core';

/** The rows of tokens 0..length per layer, token-major [length, nKvHeads*headDim], f32. */
export class KvHistory {
  private kPreRows: Float32Array[];
  private vRows: Float32Array[];
  private capacity: number;
  /** Per layer, the end of its recorded rows (a layer-major prefill records layer after layer). */
  private layerLen: number[];
  /** Tokens whose rows every layer has recorded. */
  length = 0;
  /** Token count at which the state's endPrefill ran (the first prompt's end); undefined while in prefill. */
  endPrefillAt: number | undefined;

  constructor(
    readonly nLayers: number,
    readonly width: number,
    capacity = 256,
  ) {
    this.capacity = Math.max(1, capacity);
    this.layerLen = new Array<number>(nLayers).fill(0);
    this.kPreRows = Array.from({ length: nLayers }, () => new Float32Array(this.capacity * width));
    this.vRows = Array.from({ length: nLayers }, () => new Float32Array(this.capacity * width));
  }

  /** Host bytes the log holds (2 rows of `width` f32 per token and layer). */
  get bytes(): number {
    return 2 * this.nLayers * this.length * this.width * 4;
  }

  /** Stores rows start..start+m of `layer`; the history's length advances when the last layer is recorded. */
  record(layer: number, start: number, kPre: Float32Array, v: Float32Array): void {
    const m = kPre.length / this.width;
    if (start > this.layerLen[layer]) throw new ShapeError('KvHistory.record', `rows from ${start}, but only ${this.layerLen[layer]} are recorded in layer ${layer}; tokens must arrive in order`);
    this.reserve(start + m);
    this.kPreRows[layer].set(kPre, start * this.width);
    this.vRows[layer].set(v, start * this.width);
    this.layerLen[layer] = start + m;
    if (layer === this.nLayers - 1) this.length = start + m;
  }

  private reserve(n: number): void {
    if (n <= this.capacity) return;
    let c = this.capacity;
    while (c < n) c *= 2;
    const grow = (a: Float32Array) => {
      const b = new Float32Array(c * this.width);
      b.set(a); // every row: in a layer-major prefill the first layers are ahead of `length`
      return b;
    };
    this.kPreRows = this.kPreRows.map(grow);
    this.vRows = this.vRows.map(grow);
    this.capacity = c;
  }

  /** Pre-RoPE keys of tokens 0..n of `layer` (a view, valid until the next record). */
  kPre(layer: number, n = this.length): Float32Array {
    return this.kPreRows[layer].subarray(0, n * this.width);
  }

  /** Values of tokens 0..n of `layer` (a view, valid until the next record). */
  v(layer: number, n = this.length): Float32Array {
    return this.vRows[layer].subarray(0, n * this.width);
  }

  /** A copy holding the first `n` tokens. */
  slice(n: number): KvHistory {
    if (n > this.length) throw new ShapeError('KvHistory.slice', `${n} tokens asked, ${this.length} recorded`);
    const h = new KvHistory(this.nLayers, this.width, Math.max(n, 1));
    for (let l = 0; l < this.nLayers; l++) {
      h.kPreRows[l].set(this.kPre(l, n));
      h.vRows[l].set(this.v(l, n));
    }
    h.length = n;
    h.layerLen.fill(n);
    h.endPrefillAt = this.endPrefillAt !== undefined && this.endPrefillAt <= n ? this.endPrefillAt : undefined;
    return h;
  }

  /** A history from saved rows (per layer, token-major, `length` tokens each). */
  static fromRows(kPre: Float32Array[], v: Float32Array[], width: number, length: number, endPrefillAt: number | undefined): KvHistory {
    const h = new KvHistory(kPre.length, width, Math.max(length, 1));
    kPre.forEach((k, l) => h.kPreRows[l].set(k.subarray(0, length * width)));
    v.forEach((x, l) => h.vRows[l].set(x.subarray(0, length * width)));
    h.length = length;
    h.layerLen.fill(length);
    h.endPrefillAt = endPrefillAt;
    return h;
  }
}

/**
 * Wraps a state so that every attend also copies the new tokens' pre-RoPE keys and values into a KvHistory.
 * The copy is read back (backend.read) before the forward pass frees those tensors.
 */
export class RecordingState implements KvCacheState {
  /** Present when the inner state converts layer by layer: the session's first prompt then runs layer-major too. */
  readonly endPrefillLayer?: (layer: number) => Promise<void> | void;

  constructor(
    readonly inner: KvCacheState,
    private readonly history: KvHistory,
    private readonly backend: KernelBackend,
  ) {
    if (inner.endPrefillLayer) this.endPrefillLayer = (layer) => (inner.endPrefillLayer as (l: number) => Promise<void> | void).call(inner, layer);
  }

  get seqLen(): number {
    return this.inner.seqLen;
  }

  get phase(): 'prefill' | 'decode' {
    return this.inner.phase;
  }

  beginStep(step: KvStep): void {
    this.inner.beginStep(step);
  }

  endStep(): void {
    this.inner.endStep();
  }

  async attend(input: LayerAttentionInput): Promise<Tensor> {
    const out = await this.inner.attend(input);
    await this.copy(input);
    return out;
  }

  append(_input: KvAppendInput): void {
    throw new ShapeError('RecordingState.append', 'a session state records through attend; replay appends to the inner state');
  }

  private async copy(input: KvAppendInput): Promise<void> {
    const kPre = (await this.backend.read(input.kPre)) as Float32Array;
    const v = (await this.backend.read(input.v)) as Float32Array;
    this.history.record(input.layer, input.start, kPre, v);
  }

  async endPrefill(): Promise<void> {
    const first = this.inner.phase === 'prefill';
    await this.inner.endPrefill();
    if (first) this.history.endPrefillAt = this.history.length;
  }

  memory() {
    return this.inner.memory();
  }

  stats() {
    return this.inner.stats();
  }

  dispose(): void {
    this.inner.dispose();
  }
}

/**
 * Rebuilds tokens 0..n of `history` into `state` (fresh, created by the policy): the prompt part (up to
 * endPrefillAt) is appended and endPrefill runs; the rest is appended in the decode phase, which every policy
 * stores exactly as its decode steps would (a decode step's attention output is not part of the state). Keys are
 * re-roped on the backend from the pre-RoPE rows, the same op on the same rows as the forward pass.
 */
export async function replayHistory(
  history: KvHistory,
  n: number,
  state: KvCacheState,
  backend: KernelBackend,
  rope: RopeSpec,
  nKvHeads: number,
): Promise<void> {
  if (n > history.length) throw new ShapeError('replayHistory', `${n} tokens asked, ${history.length} recorded`);
  const width = history.width;
  const prefillEnd = history.endPrefillAt === undefined ? n : Math.min(history.endPrefillAt, n);
  const appendRange = async (start: number, end: number) => {
    const m = end - start;
    if (m <= 0) return;
    const positions = backend.upload(Int32Array.from({ length: m }, (_, i) => start + i), [m], 'i32');
    try {
      state.beginStep({ start, m });
      for (let layer = 0; layer < history.nLayers; layer++) {
        const kPre = backend.upload(history.kPre(layer, end).slice(start * width), [m, width]);
        const k = backend.rope(kPre, positions, nKvHeads, rope);
        const v = backend.upload(history.v(layer, end).slice(start * width), [m, width]);
        try {
          // After endPrefill an offloading policy's append reads the rows back (a promise).
          await state.append({ layer, start, m, kPre, k, v });
        } finally {
          for (const t of [kPre, k, v]) backend.dispose(t);
        }
      }
      state.endStep();
    } finally {
      backend.dispose(positions);
    }
  };
  await appendRange(0, prefillEnd);
  if (history.endPrefillAt !== undefined && history.endPrefillAt <= n) {
    await state.endPrefill();
    await appendRange(prefillEnd, n);
  }
}
