// The typed error of a tensor allocation that does not fit in the 4 GiB a wasm32 memory can address.
import { ShadowKvError } from '@shadowkv/core';

/** Largest WebAssembly.Memory a wasm32 module addresses (65536 pages of 64 KiB). */
export const WASM32_MAX_BYTES = 65536 * 65536;

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** An allocation in the wasm backend's memory failed: the numbers say how far over the limit it is. */
export class WasmOutOfMemoryError extends ShadowKvError {
  /** Bytes the failed allocation asked for. */
  readonly bytesNeeded: number;
  /** Bytes held by live tensors when it failed. */
  readonly bytesInUse: number;
  /** The memory's ceiling (4 GiB for wasm32, or the `maxMemoryBytes` option). */
  readonly limitBytes: number;
  constructor(what: string, bytesNeeded: number, bytesInUse: number, limitBytes: number, cause?: unknown) {
    super(
      'WASM_OUT_OF_MEMORY',
      `the wasm backend cannot allocate ${bytesNeeded} bytes (${gib(bytesNeeded)}) for ${what}: ${gib(bytesInUse)} are in use ` +
        `and its memory is limited to ${gib(limitBytes)} (wasm32 addresses at most 4 GiB). Keep the weights in 16 bits ` +
        `(--weights-dtype bf16 or f16), use the ShadowKV or KCache policy (their offloaded values live outside the ` +
        `wasm memory) or a shorter context, or pick another backend (--backend cpu or webgpu)`,
      cause === undefined ? undefined : { cause },
    );
    this.bytesNeeded = bytesNeeded;
    this.bytesInUse = bytesInUse;
    this.limitBytes = limitBytes;
  }
}
