import { describe, expect, it } from 'vitest';
import { interleaveCells, isCorrect, mergeNiah, shardRows, type NiahResult } from './niah.js';

const row = (task: string, length: number, n = length) => ({ task, length, prompt_ids: new Array(n).fill(1), answer: '', answer_ids: [1] });

describe('niah helpers', () => {
  it('counts an answer when every id but the last is reproduced', () => {
    expect(isCorrect([5, 6, 7, 9], [5, 6, 7, 8])).toBe(true);
    expect(isCorrect([5, 0, 7, 8], [5, 6, 7, 8])).toBe(false);
    expect(isCorrect([5], [5])).toBe(true);
  });

  it('interleaves rows round-robin over task/length cells', () => {
    const rows = [row('a', 1), row('a', 1), row('a', 2), row('b', 1), row('b', 1)];
    const out = interleaveCells(rows);
    expect(out.map((r) => `${r.task}${r.length}`)).toEqual(['a1', 'a2', 'b1', 'a1', 'b1']);
  });

  it('shards partition the rows and balance their prompt tokens', () => {
    const rows = interleaveCells([1024, 2048, 3072, 4096].flatMap((l) => Array.from({ length: 5 }, () => row('t', l))));
    const shards = [0, 1].map((i) => shardRows(rows, i, 2));
    expect(shards[0].length + shards[1].length).toBe(rows.length);
    expect(new Set([...shards[0], ...shards[1]]).size).toBe(rows.length);
    const tokens = shards.map((s) => s.reduce((n, r) => n + r.prompt_ids.length, 0));
    expect(Math.abs(tokens[0] - tokens[1])).toBeLessThanOrEqual(4096);
    expect(() => shardRows(rows, 2, 2)).toThrow(/shard/);
  });

  it('merges shard results by summing cells', () => {
    const base = { seconds: 1, promptTokens: 10, policy: { name: 'dense', params: {} }, backend: 'cpu', model: 'm' };
    const a: NiahResult = { ...base, accuracy: 1, correct: 2, total: 2, cells: { 'x/1': { accuracy: 1, correct: 2, total: 2 } } };
    const b: NiahResult = { ...base, seconds: 3, accuracy: 0, correct: 0, total: 2, cells: { 'x/1': { accuracy: 0, correct: 0, total: 1 }, 'y/1': { accuracy: 0, correct: 0, total: 1 } } };
    const m = mergeNiah([a, b]);
    expect(m.accuracy).toBe(0.5);
    expect(m.cells['x/1']).toEqual({ accuracy: 2 / 3, correct: 2, total: 3 });
    expect(m.seconds).toBe(3);
  });
});
