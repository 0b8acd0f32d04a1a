// Error raised when the WebGPU device reports a validation, out-of-memory or device-lost failure.
import { ShadowKvError } from '@shadowkv/core';

/** The GPU rejected work the backend queued (a bug in a kernel, or memory exhausted). */
export class WebGpuError extends ShadowKvError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WEBGPU', `webgpu: ${message}`, options);
  }
}
