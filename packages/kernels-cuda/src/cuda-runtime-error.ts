// The error a CUDA call reports after validation passed (out of memory, a kernel fault, a lost device).
import { ShadowKvError } from '@shadowkv/core';

/** A CUDA runtime or cuBLAS call failed; `op` names the backend op, the message carries CUDA's error name. */
export class CudaRuntimeError extends ShadowKvError {
  readonly op: string;
  constructor(op: string, message: string, options?: { cause?: unknown }) {
    super('CUDA_RUNTIME', `cuda backend, ${op}: ${message}`, options);
    this.op = op;
  }
}
