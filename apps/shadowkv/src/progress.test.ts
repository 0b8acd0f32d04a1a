// Progress off a terminal: one line per step with an ETA when asked (benchmarks), sparse lines otherwise.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProgress, formatSeconds } from './progress.js';

describe('createProgress off a terminal', () => {
  afterEach(() => vi.restoreAllMocks());

  it('everyStep prints every update with its count and an ETA until the last', () => {
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    const tty = process.stderr.isTTY;
    Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
    try {
      // A clock that advances 1 s per reading: each prompt "takes" 1 s, so the ETA is 2 s, then 1 s.
      let clock = 0;
      vi.spyOn(Date, 'now').mockImplementation(() => (clock += 1000));
      const bar = createProgress('niah', 3, false, { everyStep: true });
      for (let i = 1; i <= 3; i++) bar.update(i, { info: `dense ${i}` });
      bar.stop();
    } finally {
      Object.defineProperty(process.stderr, 'isTTY', { value: tty, configurable: true });
    }
    const lines = err.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines).toEqual(['niah: 1/3 (1.0 s, ETA 2s) dense 1', 'niah: 2/3 (2.0 s, ETA 1s) dense 2', 'niah: 3/3 (3.0 s) dense 3']);
  });

  it('formats durations for people', () => {
    expect([formatSeconds(8.4), formatSeconds(75), formatSeconds(3600 + 120)]).toEqual(['8s', '1m15s', '1h02m']);
  });
});
