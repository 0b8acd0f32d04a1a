// The bandwidth probe's wasm module really reads every byte: its sum over a known buffer is checked, so a
// loop that exits early (and reports an impossible bandwidth) fails here.
import { describe, expect, it } from 'vitest';
import { measureReadBandwidth, streamReadModule } from './memory-bandwidth.js';

describe('streamReadModule', () => {
  it('sums lane 0 of every 16-byte vector from p to end', () => {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(streamReadModule(2)), {});
    const { sum, mem } = inst.exports as { sum: (p: number, end: number) => number; mem: WebAssembly.Memory };
    const words = new Int32Array(mem.buffer);
    for (let i = 0; i < words.length; i++) words[i] = i;
    // Lane 0 of the vector at byte 16j is word 4j; the four accumulators' lane 0 are added at the end.
    let want = 0;
    const end = 4096;
    for (let j = 0; j < end / 16; j++) want = (want + 4 * j) | 0;
    expect(sum(0, end)).toBe(want);
    expect(sum(64, 128)).toBe((16 + 20 + 24 + 28) | 0);
  });

  it('measures a plausible bandwidth with one thread (between 0.1 GB/s and 1 TB/s)', async () => {
    const r = await measureReadBandwidth({ threads: 1, mib: 16, passes: 2, rounds: 1 });
    expect(r.bytesPerSecond).toBeGreaterThan(1e8);
    expect(r.bytesPerSecond).toBeLessThan(1e12);
  });
});
