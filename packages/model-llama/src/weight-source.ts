// The weight-source contract: named tensors of a model directory, read one at a time as float32.

/** Where one tensor lives: its storage dtype, shape and byte range inside a file. */
export interface TensorInfo {
  name: string;
  /** Safetensors dtype name (F32, F16, BF16, I32, or any other name the file uses). */
  dtype: 'F32' | 'F16' | 'BF16' | string;
  shape: number[];
  /** Absolute path of the file holding the bytes. */
  file: string;
  /** Absolute byte offset of the first element in `file`. */
  byteOffset: number;
  byteLength: number;
}

/** Read access to the tensors of a model directory (one safetensors file or a sharded set). */
export interface WeightSource {
  readonly dir: string;
  /** Every tensor name, in file order. */
  names(): string[];
  /** Throws ModelFormatError naming the tensor if it is absent. */
  info(name: string): TensorInfo;
  has(name: string): boolean;
  /** Reads one tensor, widened to float32 (F16/BF16/F32). Only that tensor's bytes are read. */
  readF32(name: string): Promise<Float32Array>;
  /**
   * Reads an F16 or BF16 tensor's raw 16-bit patterns as stored (for backends that keep 16-bit weights).
   * Optional: sources without it have their tensors read with readF32 and narrowed.
   */
  readBits16?(name: string): Promise<Uint16Array>;
  /** Closes the underlying file handles; later reads fail. */
  close(): Promise<void>;
}
