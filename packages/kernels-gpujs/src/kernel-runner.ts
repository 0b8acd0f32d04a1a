// Compiles gpu.js kernels on first use and caches them. Every size a kernel reads is a uniform argument and
// loops run to a power-of-two constant with a break, so per-step values (kvLen, positions, write rows) never
// cause a compile. Kernels without loops have dynamic outputs and arguments (gpu.js `dynamicOutput`/
// `dynamicArguments`): one compile per kernel and loop bucket. For the loop kernels (LOOP_KERNELS) it depends
// on `specializeShapes`:
// - true (default): gpu.js bakes the output and argument texture sizes into the shader, so the cache key
//   holds every length: one compile per distinct shape, and kernels whose index math runs on constants
//   (~3x faster in software GL). A decode step reuses the previous step's kernels.
// - false: dynamic as well, one compile per loop bucket, for workloads whose shapes keep changing.
import { ShapeError } from '@shadowkv/core';
import type { GpujsData } from './gpujs-tensor.js';
import { KERNELS, LOOP_KERNELS, type KernelName } from './kernel-table.js';
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

/** The parts of a gpu.js kernel shortcut that resizing touches (gpu.js internals, checked before use). */
interface ResizableKernel extends GpujsKernel {
  setOutput(output: number[]): void;
  kernel?: { kernelArguments?: { prevArg?: { delete(): void } | null }[] };
}

/**
 * Resizes a dynamic kernel. gpu.js 2.24.1 keeps, per texture argument, a clone of the kernel's own earlier
 * output (`prevArg`) to ping-pong between two output textures when a kernel is fed its own result; after a
 * resize that clone has the old size and would become the new output texture. Dropping it avoids that.
 */
function resize(kernel: ResizableKernel, length: number): void {
  kernel.setOutput([length]);
  for (const value of kernel.kernel?.kernelArguments ?? []) {
    if (value.prevArg) {
      value.prevArg.delete();
      value.prevArg = null;
    }
  }
}

interface CachedKernel {
  kernel: ResizableKernel;
  length: number;
}

export class KernelRunner {
  private readonly kernels = new Map<string, CachedKernel>();

  constructor(
    private readonly gpu: GpujsInstance,
    private readonly specializeShapes = true,
    /** Longest loop the device runs correctly (see GL_MAX_LOOP); longer ones throw instead of returning garbage. */
    private readonly maxLoop = Infinity,
  ) {}

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
    for (const key of Object.keys(loops)) {
      if (loops[key] > this.maxLoop) {
        throw new ShapeError(name, `a loop of ${loops[key]} iterations (${key}) exceeds the ${this.maxLoop} this gpu.js mode runs correctly; use a JS mode (webasm, cpu) or another backend for this size`);
      }
      constants[key] = loopBound(loops[key]);
    }
    let cacheKey = `${name}|${Object.keys(constants).map((k) => `${k}=${constants[k]}`).join(',')}`;
    const specialized = this.specializeShapes && LOOP_KERNELS.has(name);
    if (specialized) {
      const sizes = args.map((a) => (typeof a === 'number' ? 's' : a.length)).join(',');
      cacheKey += `|${length}|${sizes}`;
    }
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
        dynamicOutput: !specialized,
        dynamicArguments: !specialized,
      }) as ResizableKernel;
      entry = { kernel, length };
      this.kernels.set(cacheKey, entry);
    } else if (entry.length !== length) {
      resize(entry.kernel, length);
      entry.length = length;
    }
    return entry.kernel(...args.map((a) => (typeof a === 'number' || a instanceof Float32Array ? a : a.data))) as GpujsData;
  }
}
