// Compiles gpu.js kernels on first use and caches them. Sizes are uniform arguments and outputs/arguments
// are dynamic (gpu.js `dynamicOutput`/`dynamicArguments`), so the only compile-time values are loop bounds,
// rounded up to powers of two: a kernel compiles once per bound bucket, never per shape or per decode step.
import type { GpujsData } from './gpujs-tensor.js';
import { KERNELS, type KernelName } from './kernel-table.js';
import type { GpujsInstance, GpujsKernel } from './load-gpujs.js';

/** Backend data (a texture or array) with its element count. */
export interface DataArg {
  data: GpujsData;
  length: number;
}

/** A kernel argument: backend data, a host array, or a scalar uniform. */
export type KernelArg = DataArg | Float32Array | number;

/** Smallest bucket a loop bound is rounded to; small loops share one kernel. */
const MIN_LOOP_BOUND = 16;

/** The compile-time loop bound for a runtime bound n: the next power of two (>= 16). */
export function loopBound(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, MIN_LOOP_BOUND)));
}

interface CachedKernel {
  kernel: GpujsKernel & { setOutput(output: number[]): void };
  length: number;
}

export class KernelRunner {
  private readonly kernels = new Map<string, CachedKernel>();

  constructor(private readonly gpu: GpujsInstance) {}

  /** Number of distinct compiled kernels so far (each costs a shader compile in the GL modes). */
  get compiledCount(): number {
    return this.kernels.size;
  }

  /**
   * Runs `name` over a flat output of `length` elements and returns the new output. `loops` maps each loop
   * constant of the kernel (e.g. kMax) to the runtime bound it must cover.
   */
  run(name: KernelName, length: number, loops: Record<string, number>, args: KernelArg[]): GpujsData {
    if (length === 0) return new Float32Array(0);
    const constants: Record<string, number> = {};
    for (const key of Object.keys(loops)) constants[key] = loopBound(loops[key]);
    const cacheKey = `${name}|${Object.keys(constants).map((k) => `${k}=${constants[k]}`).join(',')}`;
    let entry = this.kernels.get(cacheKey);
    if (!entry) {
      const kernel = this.gpu.createKernel(KERNELS[name], {
        output: [length],
        constants,
        // Outputs stay on the device and are never recycled behind our back: a tensor owns its texture.
        pipeline: true,
        immutable: true,
        precision: 'single',
        tactic: 'precision',
        dynamicOutput: true,
        dynamicArguments: true,
      }) as CachedKernel['kernel'];
      entry = { kernel, length };
      this.kernels.set(cacheKey, entry);
    } else if (entry.length !== length) {
      entry.kernel.setOutput([length]);
      entry.length = length;
    }
    return entry.kernel(...args.map((a) => (typeof a === 'number' || a instanceof Float32Array ? a : a.data))) as GpujsData;
  }
}
