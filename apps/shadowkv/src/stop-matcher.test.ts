import { describe, expect, it } from 'vitest';
import { StopMatcher } from './stop-matcher.js';

describe('StopMatcher', () => {
  it('holds back a possible stop prefix and cuts at the stop string', () => {
    const s = new StopMatcher(['\n\nUser:']);
    expect(s.push('Hello')).toEqual({ emit: 'Hello', stopped: false });
    expect(s.push(' there\n')).toEqual({ emit: ' there', stopped: false });
    expect(s.push('\nUs')).toEqual({ emit: '', stopped: false });
    expect(s.push('er: hi')).toEqual({ emit: '', stopped: true });
  });

  it('releases held text when the stop string does not complete', () => {
    const s = new StopMatcher(['END']);
    expect(s.push('the EN')).toEqual({ emit: 'the ', stopped: false });
    expect(s.push('D')).toEqual({ emit: '', stopped: true });
    const t = new StopMatcher(['END']);
    t.push('an EN');
    expect(t.push('try')).toEqual({ emit: 'ENtry', stopped: false });
    expect(t.flush('E')).toBe('E');
  });

  it('passes everything through without stop strings', () => {
    const s = new StopMatcher([]);
    expect(s.push('abc')).toEqual({ emit: 'abc', stopped: false });
    expect(s.flush()).toBe('');
  });
});
