// Tests of the destroy case itself: the cpu backend passes it, backends that ignore destroy() or fail the wrong
// way do not, and it skips (never passes vacuously) without a backend of its own.
import { ShapeError, type DType, type Tensor } from '@shadowkv/core';
import { CpuBackend, cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { lifecycleCases } from './cases/lifecycle-cases.js';
import { SeededRng } from './seeded-rng.js';

const [destroyCase] = lifecycleCases();

/** A backend whose destroy() frees and flags nothing. */
class IgnoresDestroy extends CpuBackend {
  override destroy(): void {}
}

/** A backend that reports use after destroy with the wrong error type. */
class WrongError extends CpuBackend {
  private gone = false;
  override destroy(): void {
    this.gone = true;
  }
  override upload(data: Float32Array | Int32Array | Uint16Array, shape: readonly number[], dtype?: DType): Tensor {
    if (this.gone) throw new ShapeError('upload', 'backend is gone');
    return super.upload(data, shape, dtype);
  }
}

function run(createBackend?: () => Promise<CpuBackend>, skip?: (reason: string) => never) {
  return destroyCase.check({ backend: cpu(), reference: cpu(), dtype: 'f32', rng: SeededRng.fromString('destroy', 1), createBackend, skip });
}

describe('the destroy conformance case', () => {
  it('passes the cpu backend', async () => {
    await expect(run(async () => cpu())).resolves.toBeUndefined();
  });

  it('fails a backend whose destroy() does nothing, and one that throws another error type', async () => {
    await expect(run(async () => new IgnoresDestroy())).rejects.toThrow(/after destroy\(\) returned normally; expected BackendDestroyedError/);
    await expect(run(async () => new WrongError())).rejects.toThrow(/upload after destroy\(\) threw ShapeError/);
  });

  it('skips without a backend of its own', async () => {
    const skip = (reason: string): never => {
      throw new Error(`skipped: ${reason}`);
    };
    await expect(run(undefined, skip)).rejects.toThrow(/skipped: destroy needs a backend of its own/);
  });
});
