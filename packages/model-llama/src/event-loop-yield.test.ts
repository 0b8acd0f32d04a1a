// The yield that lets timers fire during a generation: with setImmediate (Node) and with the MessageChannel
// fallback that browsers get (no setImmediate there; setTimeout(0) would be clamped to 4 ms).
import { afterEach, describe, expect, it, vi } from 'vitest';

async function timerFiresDuringYields(yieldToEventLoop: () => Promise<void>): Promise<number> {
  let fired = false;
  setTimeout(() => (fired = true), 5);
  const t0 = performance.now();
  let yields = 0;
  // A busy loop that only ever yields through yieldToEventLoop: without a real macrotask hop it never ends.
  while (!fired && performance.now() - t0 < 2000) {
    const spin = performance.now();
    while (performance.now() - spin < 1) {
      // compute
    }
    await yieldToEventLoop();
    yields++;
  }
  expect(fired).toBe(true);
  return yields;
}

describe('yieldToEventLoop', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('lets a due timer run (Node: setImmediate)', async () => {
    const { yieldToEventLoop } = await import('./event-loop-yield.js');
    expect(await timerFiresDuringYields(yieldToEventLoop)).toBeLessThan(1000);
  });

  it('lets a due timer run without setImmediate (the browser path: MessageChannel)', async () => {
    vi.stubGlobal('setImmediate', undefined);
    vi.resetModules();
    const { yieldToEventLoop } = await import('./event-loop-yield.js');
    const channel = vi.spyOn(globalThis, 'MessageChannel');
    expect(await timerFiresDuringYields(yieldToEventLoop)).toBeLessThan(1000);
    expect(channel).toHaveBeenCalled();
  });
});
