// Model-folder access in browsers: files fetched over HTTP from a folder URL (relative to the page or
// absolute). The "browser" condition of "#model-files" (package.json "imports") selects it; its API is the
// same as model-files-node.ts (model-files.test.ts checks that).
import { openHttpSafetensors } from './http-weight-source.js';
import { modelUrl } from './model-url.js';
import type { WeightSource } from './weight-source.js';

/** URL of the file `name` in the model folder at URL `dir`. */
export function modelFilePath(dir: string, name: string): string {
  return modelUrl(dir, name);
}

/** The file's text; rejects with the HTTP status when the server does not answer 2xx. */
export async function readModelText(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  return res.text();
}

/** Whether the server has the file (a HEAD request answered 2xx; false on any error). */
export async function isModelFile(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { method: 'HEAD' })).ok;
  } catch {
    return false;
  }
}

/** The safetensors weights under the folder URL `dir`, read with Range requests. */
export function openModelWeights(dir: string): Promise<WeightSource> {
  return openHttpSafetensors(dir);
}
