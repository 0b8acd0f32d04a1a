// The buffer arena's rules without a GPU (buffers are plain objects here): size classes, reuse only after
// the submit that follows a release, oldest buffer first, exact buffers and the cap destroyed, not kept.
import { describe, expect, it } from 'vitest';
import { BufferPool, sizeClass } from './buffer-pool.js';

type FakeBuffer = GPUBuffer & { id: number; destroyed: boolean };

function pool(maxFreeBytes = 1 << 30) {
  const created: FakeBuffer[] = [];
  const forgotten: number[] = [];
  const p = new BufferPool({
    create: (size) => {
      const b = { id: created.length, size, destroyed: false } as unknown as FakeBuffer;
      b.destroy = () => {
        b.destroyed = true;
      };
      created.push(b);
      return b;
    },
    onDestroy: (b) => forgotten.push((b as FakeBuffer).id),
    maxFreeBytes,
  });
  return { p, created, forgotten };
}

describe('BufferPool', () => {
  it('sizeClass: powers of two up to 1 MiB, eighths of a power of two above, exact sizes for exact requests', () => {
    expect([sizeClass(1), sizeClass(17), sizeClass(1000), sizeClass(1 << 20)]).toEqual([16, 32, 1024, 1 << 20]);
    expect(sizeClass((1 << 20) + 1)).toBe((1 << 20) + (1 << 17));
    expect(sizeClass(3_000_000)).toBe(3_145_728); // 3 MiB: 2 MiB + 4 eighths
    expect(sizeClass(1001, true)).toBe(1008);
    for (const b of [5000, 1.5e6, 7.7e8]) expect(sizeClass(b) / b).toBeLessThan(b > 1 << 20 ? 1.125 : 2);
  });

  it('reuses a released buffer only after the next submit when commands recorded since may use it', () => {
    const { p, created } = pool();
    const a = p.acquire(100).buffer;
    p.release(a, true);
    expect(p.acquire(100).reused).toBe(false); // a may still be read by the unsubmitted commands
    p.submitted();
    const again = p.acquire(100);
    expect(again).toEqual({ buffer: a, reused: true });
    expect(created).toHaveLength(2);
  });

  it('hands out the oldest free buffer whatever the release order (steady bind groups)', () => {
    const { p } = pool();
    const bs = [p.acquire(64).buffer, p.acquire(64).buffer, p.acquire(64).buffer];
    for (const order of [[0, 1, 2], [2, 0, 1], [1, 2, 0]]) {
      for (const i of order) p.release(bs[i], false);
      expect([p.acquire(64).buffer, p.acquire(64).buffer, p.acquire(64).buffer]).toEqual(bs);
    }
  });

  it('destroys exact buffers and buffers past the cap instead of keeping them', () => {
    const { p, forgotten } = pool(1024);
    const exact = p.acquire(5000, true).buffer as FakeBuffer;
    p.release(exact, false);
    expect(exact.destroyed).toBe(true);
    const big = p.acquire(2048).buffer as FakeBuffer;
    p.release(big, false);
    expect(big.destroyed).toBe(true);
    const small = p.acquire(512).buffer as FakeBuffer;
    p.release(small, false);
    expect(small.destroyed).toBe(false);
    expect(p.bytesFree).toBe(512);
    expect(forgotten).toEqual([exact.id, big.id]);
  });
});
