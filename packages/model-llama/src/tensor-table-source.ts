// The part of a WeightSource that does not depend on where the bytes live: the validated tensor table,
// lookups with helpful errors, and dtype widening. Files and HTTP differ only in how a byte range is read.
import { ModelFormatError, ShadowKvError, UnsupportedModelError } from '@shadowkv/core';
import { assertFloatTensor, floatTensorToF32 } from './float-tensor.js';
import type { TensorInfo, WeightSource } from './weight-source.js';

export abstract class TensorTableSource implements WeightSource {
  protected closed = false;

  protected constructor(
    /** The model folder (path or URL) as given. */
    readonly dir: string,
    private readonly tensors: Map<string, TensorInfo>,
    /** `__metadata__` of every file, merged. */
    readonly metadata: Readonly<Record<string, string>>,
    /** What to check when a tensor is missing ("the model directory", "the model URL"). */
    private readonly where: string,
  ) {}

  /** Reads `t`'s bytes exactly as stored into a fresh buffer. */
  protected abstract readRange(t: TensorInfo): Promise<Uint8Array>;

  abstract close(): Promise<void>;

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) {
      throw new ModelFormatError(this.dir, name, `tensor "${name}" is not in this checkpoint (${this.tensors.size} tensors); check ${this.where} and its config.json`);
    }
    return t;
  }

  /** The tensor's bytes exactly as stored, in a fresh (aligned) buffer. */
  async readBytes(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    if (this.closed) throw new ShadowKvError('CLOSED', `${t.file}: cannot read "${name}", the weight source was closed`);
    return this.readRange(t);
  }

  async readF32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    assertFloatTensor(t);
    return floatTensorToF32(t, await this.readBytes(name));
  }

  async readBits16(name: string): Promise<Uint16Array> {
    const t = this.info(name);
    if (t.dtype !== 'F16' && t.dtype !== 'BF16') throw new UnsupportedModelError(t.file, name, `dtype ${t.dtype} is not F16 or BF16; use readF32`);
    const bytes = await this.readBytes(name);
    // A typed-array view needs an element-aligned start; a fresh buffer per tensor (the usual case) always is.
    const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
    return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  }

  /** Reads an I32 tensor (e.g. token ids stored next to test goldens). */
  async readI32(name: string): Promise<Int32Array> {
    const t = this.info(name);
    if (t.dtype !== 'I32') throw new UnsupportedModelError(t.file, name, `dtype ${t.dtype} is not I32; use readF32 for float tensors`);
    const bytes = await this.readBytes(name);
    return new Int32Array(bytes.buffer, 0, bytes.byteLength / 4);
  }
}
