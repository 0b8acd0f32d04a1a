// GPU execution time from timestamp queries (the adapter's timestamp-query feature): every compute pass
// writes a begin and an end timestamp; each submit resolves its pairs into a small buffer that is read
// back WITHOUT waiting (mapAsync resolves later and adds to the total), so timing adds no host round trip.
// The total therefore lags the queue by up to one submit: read it after a read() or sync().
import { BufferUsage, MapMode } from './gpu-constants.js';

/** Passes timed per submit; passes past it in one submit are not timed (a decode submit has 1-3). */
const MAX_PASSES = 32;

/** GPUBufferUsage.QUERY_RESOLVE (not in gpu-constants: only this file resolves queries). */
const QUERY_RESOLVE = 0x0200;

export class GpuTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly free: GPUBuffer[] = [];
  private passes = 0;
  private lost = false;

  constructor(
    private readonly device: GPUDevice,
    /** Receives the GPU milliseconds of one submit's passes once they are known. */
    private readonly onMs: (ms: number) => void,
    /** Counts each buffer this timer creates. */
    private readonly onCreateBuffer: () => void,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * MAX_PASSES });
    onCreateBuffer();
    this.resolveBuffer = device.createBuffer({ size: 16 * MAX_PASSES, usage: QUERY_RESOLVE | BufferUsage.COPY_SRC });
  }

  /** The timestampWrites of the next compute pass of this submit, or undefined when the set is full. */
  passTimestamps(): GPUComputePassTimestampWrites | undefined {
    if (this.passes === MAX_PASSES) return undefined;
    const i = this.passes++;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /**
   * Before the encoder is finished: resolves this submit's timestamps into a read-back buffer. Returns a
   * function to call after the submit, which starts the (unawaited) read.
   */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    const n = this.passes;
    this.passes = 0;
    if (n === 0 || this.lost) return null;
    let readback = this.free.pop();
    if (!readback) {
      this.onCreateBuffer();
      readback = this.device.createBuffer({ size: 16 * MAX_PASSES, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    }
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, readback, 0, 16 * n);
    const buf = readback;
    return () => {
      buf.mapAsync(MapMode.READ, 0, 16 * n).then(
        () => {
          const t = new BigUint64Array(buf.getMappedRange(0, 16 * n));
          let ns = 0;
          // A pair whose end precedes its begin (a driver that did not write it) counts nothing.
          for (let i = 0; i < n; i++) if (t[2 * i + 1] > t[2 * i]) ns += Number(t[2 * i + 1] - t[2 * i]);
          buf.unmap();
          this.free.push(buf);
          this.onMs(ns / 1e6);
        },
        () => {
          // The device went away (destroy or loss): timing stops, nothing else depends on it.
          this.lost = true;
        },
      );
    };
  }
}
