// WebGPU flag values from the spec, so the package needs neither the browser globals nor Dawn's `globals`.

/** GPUBufferUsage bit flags. */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** GPUMapMode bit flags. */
export const MapMode = { READ: 0x0001 } as const;

/** Threads per workgroup of the one-dimensional kernels (the WebGPU minimum guarantees 256). */
export const LINEAR_WORKGROUP = 256;
