// `bench ... --out FILE`: one writer of a benchmark's markdown table plus its JSON, rewritten after each step of a
// long run so that an interrupted run keeps what it measured.
import { rename, writeFile } from 'node:fs/promises';

/** Writes `table` and `data` (as a fenced JSON block) to `file`, replacing it whole (written beside, then renamed). */
export async function writeBenchOut(file: string, table: string, data: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${table}\n\n\`\`\`json\n${JSON.stringify(data)}\n\`\`\`\n`);
  await rename(tmp, file);
}
