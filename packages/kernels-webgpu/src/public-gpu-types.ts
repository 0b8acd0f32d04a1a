// Structural stand-ins for the WebGPU objects the public API takes, so the published declarations compile in a
// consumer with only `lib: ["es2022"]` and `types: ["node"]`: neither lib dom nor @webgpu/types (whose own
// declarations need lib dom: BufferSource, ImageBitmap, EventTarget...) is required. They are deliberately
// loose: a real GPU or GPUDevice (from @webgpu/types, lib dom, or the Dawn binding) is assignable to them, so a
// browser user passes navigator.gpu or a device as is. Inside the package they are the real WebGPU types.

/** GPURequestAdapterOptions.powerPreference. */
export type WebGpuPowerPreference = 'low-power' | 'high-performance';

/** A WebGPU entry point (GPU): navigator.gpu, or a Dawn instance from the `webgpu` package. */
export interface WebGpuEntry {
  requestAdapter(options?: never): Promise<unknown>;
}

/** A GPUDevice (with the features and limits the backend checks). */
export interface WebGpuDevice {
  readonly queue: object;
  readonly limits: object;
  readonly features: { has(feature: string): boolean };
  createBuffer(descriptor: never): unknown;
}
