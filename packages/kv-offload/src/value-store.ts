// The slow-memory (host) value store of an offloading KV cache: chunk-contiguous per KV head, optionally int8.
import { InvalidOptionError, ShapeError } from '@shadowkv/core';

/** How values are kept in slow memory. */
export type ValueQuantization = 'none' | 'int8';

export interface ValueStoreOptions {
  nKvHeads: number;
  headDim: number;
  /** Tokens per chunk: the unit of a fetch (ShadowKV: 8; KCache: 1). */
  chunkSize: number;
  /** Tokens reserved up front; past it the store grows by doubling. Default 1024. */
  initialCapacity?: number;
  /**
   * 'int8' keeps each full chunk of each head as int8 with one float scale (max |v| / 127), about 4x smaller;
   * the partial last chunk stays float32 until it fills. Default 'none' (float32, exact).
   */
  quantize?: ValueQuantization;
}

/**
 * Values of one layer in host memory, laid out `[nKvHeads][nChunks][chunkSize * headDim]` so that one chunk of
 * one head is one contiguous read. Tokens are appended in order (the prompt at the end of prefill, then
 * generated tokens if the policy wants them here); chunk c holds tokens c*chunkSize .. (c+1)*chunkSize.
 */
export class ValueStore {
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly chunkSize: number;
  readonly quantize: ValueQuantization;
  private readonly chunkFloats: number;
  private capacityChunks: number;
  private tokens = 0;
  /** 'none': per head [capacityChunks * chunkSize * headDim]. */
  private f32: Float32Array[] = [];
  /** 'int8': per head [capacityChunks * chunkSize * headDim], scales per head [capacityChunks]. */
  private q8: Int8Array[] = [];
  private scales: Float32Array[] = [];
  /** 'int8': per head [chunkSize * headDim], the partial last chunk in float32. */
  private readonly tail: Float32Array[] = [];

  constructor(opts: ValueStoreOptions) {
    const { nKvHeads, headDim, chunkSize, initialCapacity = 1024, quantize = 'none' } = opts;
    for (const [name, v] of [['nKvHeads', nKvHeads], ['headDim', headDim], ['chunkSize', chunkSize], ['initialCapacity', initialCapacity]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new InvalidOptionError(name, `must be a positive integer, got ${v}`);
    }
    if (quantize !== 'none' && quantize !== 'int8') throw new InvalidOptionError('quantize', `must be 'none' or 'int8', got ${String(quantize)}`);
    this.nKvHeads = nKvHeads;
    this.headDim = headDim;
    this.chunkSize = chunkSize;
    this.quantize = quantize;
    this.chunkFloats = chunkSize * headDim;
    this.capacityChunks = Math.ceil(initialCapacity / chunkSize);
    for (let h = 0; h < nKvHeads; h++) {
      if (quantize === 'int8') {
        this.q8.push(new Int8Array(this.capacityChunks * this.chunkFloats));
        this.scales.push(new Float32Array(this.capacityChunks));
        this.tail.push(new Float32Array(this.chunkFloats));
      } else {
        this.f32.push(new Float32Array(this.capacityChunks * this.chunkFloats));
      }
    }
  }

  /** Tokens stored. */
  get length(): number {
    return this.tokens;
  }

  /** Chunks holding at least one token. */
  get chunkCount(): number {
    return Math.ceil(this.tokens / this.chunkSize);
  }

  /** Chunks holding chunkSize tokens (their contents no longer change). */
  get fullChunks(): number {
    return Math.floor(this.tokens / this.chunkSize);
  }

  /** Bytes of the stored tokens (int8: codes plus one float scale per full chunk and head). */
  get bytes(): number {
    const rowBytes = this.nKvHeads * this.headDim * 4;
    if (this.quantize === 'none') return this.tokens * rowBytes;
    const full = this.fullChunks;
    return full * this.nKvHeads * (this.chunkFloats + 4) + (this.tokens - full * this.chunkSize) * rowBytes;
  }

  /**
   * Appends `count` tokens from a head-major cache `src` [nKvHeads, rowStride, headDim], rows firstRow..firstRow+count
   * (a dense V cache read back at the end of prefill).
   */
  appendHeadMajor(src: Float32Array, rowStride: number, count: number, firstRow = 0): void {
    const d = this.headDim;
    if (firstRow + count > rowStride || src.length < this.nKvHeads * rowStride * d) {
      throw new ShapeError('ValueStore.appendHeadMajor', `rows ${firstRow}..${firstRow + count} of [${this.nKvHeads}, ${rowStride}, ${d}] do not fit ${src.length} floats`);
    }
    this.reserve(this.tokens + count);
    for (let i = 0; i < count; i++) {
      for (let h = 0; h < this.nKvHeads; h++) this.putRow(h, this.tokens, src, (h * rowStride + firstRow + i) * d);
      this.afterRow();
    }
  }

  /** Appends `count` tokens from token-major rows `src` [count, nKvHeads*headDim] (a decode step's v). */
  appendTokenMajor(src: Float32Array, count: number): void {
    const row = this.nKvHeads * this.headDim;
    if (src.length < count * row) throw new ShapeError('ValueStore.appendTokenMajor', `${count} rows of ${row} floats do not fit ${src.length} floats`);
    this.reserve(this.tokens + count);
    for (let i = 0; i < count; i++) {
      for (let h = 0; h < this.nKvHeads; h++) this.putRow(h, this.tokens, src, (i * this.nKvHeads + h) * this.headDim);
      this.afterRow();
    }
  }

  /**
   * Copies chunk `chunk` of KV head `head` into `out` at `outOffset` ([chunkSize, headDim], dequantized);
   * rows past the stored tokens of a partial chunk are zero-filled. Returns the number of stored rows.
   */
  readChunk(head: number, chunk: number, out: Float32Array, outOffset = 0): number {
    if (head < 0 || head >= this.nKvHeads || chunk < 0 || chunk >= this.chunkCount) {
      throw new ShapeError('ValueStore.readChunk', `head ${head}, chunk ${chunk} is outside [0, ${this.nKvHeads}) x [0, ${this.chunkCount})`);
    }
    const rows = Math.min(this.chunkSize, this.tokens - chunk * this.chunkSize);
    const n = rows * this.headDim;
    const from = chunk * this.chunkFloats;
    if (this.quantize === 'none') {
      out.set(this.f32[head].subarray(from, from + n), outOffset);
    } else if (chunk < this.fullChunks) {
      const codes = this.q8[head];
      const scale = this.scales[head][chunk];
      for (let i = 0; i < n; i++) out[outOffset + i] = codes[from + i] * scale;
    } else {
      out.set(this.tail[head].subarray(0, n), outOffset);
    }
    if (rows < this.chunkSize) out.fill(0, outOffset + n, outOffset + this.chunkFloats);
    return rows;
  }

  private putRow(h: number, token: number, src: Float32Array, from: number): void {
    const d = this.headDim;
    if (this.quantize === 'none') {
      this.f32[h].set(src.subarray(from, from + d), token * d);
    } else {
      this.tail[h].set(src.subarray(from, from + d), (token % this.chunkSize) * d);
    }
  }

  /** Counts the row just written by putRow for every head; an int8 chunk is quantized once it is full. */
  private afterRow(): void {
    this.tokens++;
    if (this.quantize === 'int8' && this.tokens % this.chunkSize === 0) {
      const chunk = this.tokens / this.chunkSize - 1;
      for (let h = 0; h < this.nKvHeads; h++) quantizeChunk(this.tail[h], this.q8[h], chunk * this.chunkFloats, this.scales[h], chunk);
    }
  }

  private reserve(tokens: number): void {
    const need = Math.ceil(tokens / this.chunkSize);
    if (need <= this.capacityChunks) return;
    let cap = this.capacityChunks;
    while (cap < need) cap *= 2;
    for (let h = 0; h < this.nKvHeads; h++) {
      if (this.quantize === 'none') {
        const a = new Float32Array(cap * this.chunkFloats);
        a.set(this.f32[h]);
        this.f32[h] = a;
      } else {
        const q = new Int8Array(cap * this.chunkFloats);
        q.set(this.q8[h]);
        this.q8[h] = q;
        const s = new Float32Array(cap);
        s.set(this.scales[h]);
        this.scales[h] = s;
      }
    }
    this.capacityChunks = cap;
  }
}

/** Symmetric int8: code = round(v / scale) with scale = max |v| / 127, so |error| <= scale / 2 per value. */
function quantizeChunk(src: Float32Array, codes: Int8Array, at: number, scales: Float32Array, chunk: number): void {
  let max = 0;
  for (let i = 0; i < src.length; i++) {
    const a = Math.abs(src[i]);
    if (a > max) max = a;
  }
  const scale = max / 127;
  scales[chunk] = scale;
  const inv = scale > 0 ? 1 / scale : 0;
  for (let i = 0; i < src.length; i++) codes[at + i] = Math.round(src[i] * inv);
}
