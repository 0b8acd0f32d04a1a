// Child process of the fuzz harness: receives cases over IPC, writes each model folder, loads it through
// createEngine and generates two tokens (a chat prompt when the tokenizer has a template), and reports the
// outcome: loaded, a typed error (a ShadowKvError) or an untyped one. Crashes and hangs are seen by the parent.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ShadowKvError } from '@shadowkv/core';
import { createEngine } from '../engine.js';
import { writeModelFiles, type ModelFiles } from './fuzz-base-model.js';

export interface ChildRequest {
  id: number;
  dir: string;
  files: ModelFiles;
}

export interface ChildReply {
  id: number;
  outcome: 'typed' | 'loaded' | 'untyped';
  /** Error name and the start of its message (typed and untyped outcomes). */
  error?: string;
  ms: number;
}

async function runCase(req: ChildRequest): Promise<ChildReply> {
  const t0 = performance.now();
  const dir = join(req.dir, `case-${req.id}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  // A zero-length file stands for "deleted".
  const files = Object.fromEntries(Object.entries(req.files).filter(([, b]) => b.byteLength > 0));
  await writeModelFiles(dir, files);
  let outcome: ChildReply['outcome'] = 'loaded';
  let error: string | undefined;
  try {
    const engine = await createEngine({ model: dir, backend: 'cpu' });
    try {
      const tok = engine.tokenizer;
      const prompt = !tok ? { inputIds: [0, 1, 2] } : tok.hasChatTemplate() ? { messages: [{ role: 'user', content: 'Hello there' }] } : 'Hello there';
      await engine.generateText(prompt, { maxNewTokens: 2, ignoreEos: true });
    } finally {
      engine.dispose();
    }
  } catch (err) {
    outcome = err instanceof ShadowKvError ? 'typed' : 'untyped';
    const e = err as Error;
    error = `${e?.name ?? typeof err}: ${String(e?.message ?? err).slice(0, 300)}`;
  }
  await rm(dir, { recursive: true, force: true });
  return { id: req.id, outcome, error, ms: performance.now() - t0 };
}

process.on('message', (req: ChildRequest) => {
  void runCase(req).then(
    (reply) => process.send!(reply),
    (err: unknown) => process.send!({ id: req.id, outcome: 'untyped', error: `harness: ${String(err)}`, ms: 0 } satisfies ChildReply),
  );
});
process.send!({ ready: true });
