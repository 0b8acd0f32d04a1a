// Model-folder access in Node: files on disk. Imported as "#model-files" (package.json "imports"); bundlers
// for browsers pick model-files-browser.ts, its fetch twin, through the "browser" condition instead.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { openSafetensors } from './safetensors.js';
import type { WeightSource } from './weight-source.js';

/** Path of the file `name` in the model folder `dir`. */
export function modelFilePath(dir: string, name: string): string {
  return join(dir, name);
}

/** The file's text; rejects with the platform's error when it cannot be read. */
export function readModelText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

/** Whether `path` is a readable file (false on any error). */
export async function isModelFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The safetensors weights of the model folder `dir` (one file or a sharded set). */
export function openModelWeights(dir: string): Promise<WeightSource> {
  return openSafetensors(dir);
}
