// URLs of the files of a model folder served over HTTP (browsers, or Node's fetch).
import { InvalidOptionError } from '@shadowkv/core';

/**
 * URL of the file `name` inside the model folder `dir`. `dir` is an absolute URL, or (in a page) one
 * relative to the page; `name` is one path segment and is percent-encoded, so it never leaves the folder.
 */
export function modelUrl(dir: string, name: string): string {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let base: URL;
  try {
    base = new URL(dir.endsWith('/') ? dir : `${dir}/`, page);
  } catch {
    throw new InvalidOptionError('url', `"${dir}" is not a URL${page ? '' : ' (outside a page it must be absolute, e.g. http://host/model/)'}`);
  }
  return new URL(encodeURIComponent(name), base).href;
}
