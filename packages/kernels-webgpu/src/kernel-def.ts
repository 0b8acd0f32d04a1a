// A kernel's compile-time half: a name, a cache key over its specialisation, and a WGSL renderer.
// Per-call sizes never appear here; they travel in the uniform block, so one pipeline serves every step.

/** Compile-time constants a kernel is specialised on (head_dim, workgroup size, vector width). */
export type Spec = Readonly<Record<string, number | boolean | string>>;

export interface KernelDef<S extends Spec> {
  readonly name: string;
  /** Renders the WGSL module; binding 0 is always the uniform block, storage buffers follow in order. */
  render(spec: S): string;
}

/** Declares a kernel; the pipeline cache keys it by name plus its spec's entries. */
export function defineKernel<S extends Spec>(name: string, render: (spec: S) => string): KernelDef<S> {
  return { name, render };
}

/** The cache key of one specialisation: stable across property order. */
export function specKey(kernel: KernelDef<Spec>, spec: Spec): string {
  const entries = Object.keys(spec)
    .sort()
    .map((k) => `${k}=${String(spec[k])}`);
  return `${kernel.name}(${entries.join(',')})`;
}
