// Bind groups made once and reused: kernels get explicit layouts whose uniform block (binding 0) takes a
// dynamic offset, so a bind group is keyed by its layout and storage windows only, not by the uniform slot
// of the dispatch; with the buffer arena a decode step binds the same buffers every step and creates none.

export type StorageKind = 'read-only-storage' | 'storage';

/** One storage binding's window of a buffer. */
export interface StorageEntry {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** The storage bindings 1..n of a kernel's WGSL, read-only or read-write, in binding order. */
export function storageKinds(wgsl: string): StorageKind[] {
  const kinds: StorageKind[] = [];
  for (const m of wgsl.matchAll(/@binding\((\d+)\)\s*var<storage,\s*(read_write|read)>/g)) {
    kinds[Number(m[1]) - 1] = m[2] === 'read' ? 'read-only-storage' : 'storage';
  }
  for (let i = 0; i < kinds.length; i++) {
    if (!kinds[i]) throw new RangeError(`kernel storage bindings must be numbered 1..n without gaps; binding ${i + 1} is missing`);
  }
  return kinds;
}

/** Bind groups kept at most; past it the cache starts over (a decode step needs a few hundred). */
const MAX_GROUPS = 8192;

export class BindGroupCache {
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly groups = new Map<string, GPUBindGroup>();
  /** Keys of the groups that bind each buffer (by buffer id), to drop them when the buffer is destroyed. */
  private readonly byBuffer = new Map<number, string[]>();
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;

  constructor(
    private readonly device: GPUDevice,
    /** The uniform arena: binding 0 of every group, at a dynamic offset. */
    private readonly uniforms: GPUBuffer,
    private readonly uniformBytes: number,
    /** Counts each bind group created. */
    private readonly onCreate: () => void,
  ) {}

  /** The layout for these storage kinds (shared by every kernel with the same signature). */
  layout(kinds: readonly StorageKind[]): GPUBindGroupLayout {
    const sig = kinds.join(',');
    let l = this.layouts.get(sig);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: GPUShaderStageCompute, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: this.uniformBytes } },
        ...kinds.map((type, i) => ({ binding: i + 1, visibility: GPUShaderStageCompute, buffer: { type } })),
      ];
      l = this.device.createBindGroupLayout({ label: `kernel(${sig})`, entries });
      this.layouts.set(sig, l);
    }
    return l;
  }

  /** The bind group of `layout` over these storage windows, created on first use. */
  group(layout: GPUBindGroupLayout, kinds: readonly StorageKind[], storage: readonly StorageEntry[]): GPUBindGroup {
    let key = kinds.join(',');
    const bufferIds: number[] = [];
    for (const s of storage) {
      const id = this.idOf(s.buffer);
      bufferIds.push(id);
      key += `|${id}:${s.offset}:${s.size}`;
    }
    let g = this.groups.get(key);
    if (g) return g;
    if (this.groups.size >= MAX_GROUPS) {
      this.groups.clear();
      this.byBuffer.clear();
    }
    g = this.device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: { buffer: this.uniforms, offset: 0, size: this.uniformBytes } },
        ...storage.map((s, i) => ({ binding: i + 1, resource: { buffer: s.buffer, offset: s.offset, size: s.size } })),
      ],
    });
    this.onCreate();
    this.groups.set(key, g);
    for (const id of new Set(bufferIds)) {
      let keys = this.byBuffer.get(id);
      if (!keys) this.byBuffer.set(id, (keys = []));
      keys.push(key);
    }
    return g;
  }

  /** Drops the groups that bind `buffer` (it is about to be destroyed). */
  forget(buffer: GPUBuffer): void {
    const id = this.ids.get(buffer);
    if (id === undefined) return;
    for (const key of this.byBuffer.get(id) ?? []) this.groups.delete(key);
    this.byBuffer.delete(id);
  }

  private idOf(buffer: GPUBuffer): number {
    let id = this.ids.get(buffer);
    if (id === undefined) this.ids.set(buffer, (id = this.nextId++));
    return id;
  }
}

/** GPUShaderStage.COMPUTE (the global is missing in Node). */
const GPUShaderStageCompute = 0x4;
