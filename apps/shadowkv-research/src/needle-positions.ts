// Where a niah row's needle sits in its prompt, for the research diagnostics (needle chunks selected or not).
import type { NiahRow } from 'shadowkv/bench';

/** Positions of the answer's digits (answer ids without the leading space and trailing period) in the prompt. */
export function needlePositions(row: Pick<NiahRow, 'prompt_ids' | 'answer_ids'>): number[] {
  const want = row.answer_ids.slice(1, -1);
  const out: number[] = [];
  const p = row.prompt_ids;
  for (let i = 0; i + want.length <= p.length; i++) {
    if (want.every((id, j) => p[i + j] === id)) for (let j = 0; j < want.length; j++) out.push(i + j);
  }
  return out;
}
