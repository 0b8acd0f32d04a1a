// One remote file read in byte ranges over HTTP (Range requests), for weight sources in browsers. A server
// that ignores Range answers 200 with the whole body; that body is kept and later reads slice it.
import { ModelFormatError } from '@shadowkv/core';

/** How HTTP requests are made. */
export interface HttpFetchOptions {
  /** The fetch to use (default: globalThis.fetch), e.g. one that adds authentication. */
  fetch?: typeof fetch;
  /** Merged into every request (headers, credentials, signal, cache...). A Range header is added. */
  init?: RequestInit;
}

const CORS_HINT = 'check the URL, that the server is up and, for another origin, that it sends CORS headers';

/** A file on an HTTP server whose size is known, read by byte ranges. */
export class HttpFile {
  private constructor(
    readonly url: string,
    /** File size in bytes. */
    readonly size: number,
    /** The whole file, when the server ignored a Range request. */
    private whole: Uint8Array | null,
    private readonly opts: HttpFetchOptions,
  ) {}

  /**
   * Opens `url` with one request for its first `probeBytes` bytes. Returns null when the server answers 404
   * and `allowMissing` is set; throws ModelFormatError for other failures.
   */
  static async open(url: string, probeBytes: number, opts: HttpFetchOptions, allowMissing = false): Promise<{ file: HttpFile; head: Uint8Array } | null> {
    const res = await request(url, `bytes=0-${probeBytes - 1}`, opts);
    if (res.status === 404 && allowMissing) return null;
    // 416: not even byte 0 exists, i.e. the file is empty (the header check then reports it).
    if (res.status === 416) return { file: new HttpFile(url, 0, new Uint8Array(0), opts), head: new Uint8Array(0) };
    if (res.status === 200) {
      const whole = await body(res, url);
      return { file: new HttpFile(url, whole.byteLength, whole, opts), head: whole.subarray(0, probeBytes) };
    }
    if (res.status !== 206) throw statusError(url, res);
    const head = await body(res, url);
    const size = rangeTotal(res.headers.get('content-range')) ?? (await contentLength(url, opts));
    return { file: new HttpFile(url, size, null, opts), head };
  }

  /** Exactly `length` bytes at `offset`, in a fresh buffer. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new ModelFormatError(this.url, undefined, `has ${this.size} bytes; cannot read ${length} bytes at offset ${offset}`);
    }
    if (length === 0) return new Uint8Array(0);
    if (this.whole) return this.whole.slice(offset, offset + length);
    const last = offset + length - 1;
    const res = await request(this.url, `bytes=${offset}-${last}`, this.opts);
    if (res.status === 200) {
      this.whole = await body(res, this.url);
      if (this.whole.byteLength !== this.size) throw changed(this.url, `now has ${this.whole.byteLength} bytes instead of ${this.size}`);
      return this.whole.slice(offset, offset + length);
    }
    if (res.status !== 206) throw statusError(this.url, res);
    const start = rangeStart(res.headers.get('content-range'));
    const bytes = await body(res, this.url);
    if ((start !== null && start !== offset) || bytes.byteLength !== length) {
      throw changed(this.url, `answered the range ${offset}-${last} with ${bytes.byteLength} bytes${start !== null ? ` from offset ${start}` : ''}`);
    }
    return bytes;
  }
}

async function request(url: string, range: string, opts: HttpFetchOptions): Promise<Response> {
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const headers = new Headers(opts.init?.headers);
  headers.set('Range', range);
  try {
    return await fetchFn(url, { ...opts.init, headers });
  } catch (err) {
    throw new ModelFormatError(url, undefined, `cannot be fetched (${(err as Error).message}); ${CORS_HINT}`, { cause: err });
  }
}

async function body(res: Response, url: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    throw new ModelFormatError(url, undefined, `the download broke off (${(err as Error).message}); try again`, { cause: err });
  }
}

function statusError(url: string, res: Response): ModelFormatError {
  return new ModelFormatError(url, undefined, `the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}; ${CORS_HINT}`);
}

function changed(url: string, what: string): ModelFormatError {
  return new ModelFormatError(url, undefined, `${what}: the file changed on the server, or the server does not handle Range requests correctly (e.g. it compresses ranges)`);
}

/** "bytes 0-99/1234" → 1234; null when absent, unreadable (CORS) or "*". */
function rangeTotal(header: string | null): number | null {
  const m = header?.match(/^bytes\s+\d+-\d+\/(\d+)\s*$/i);
  return m ? Number(m[1]) : null;
}

function rangeStart(header: string | null): number | null {
  const m = header?.match(/^bytes\s+(\d+)-/i);
  return m ? Number(m[1]) : null;
}

/** The size from a HEAD request (Content-Length is readable across origins, Content-Range only if exposed). */
async function contentLength(url: string, opts: HttpFetchOptions): Promise<number> {
  const fetchFn = opts.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await fetchFn(url, { ...opts.init, method: 'HEAD' });
  } catch (err) {
    throw new ModelFormatError(url, undefined, `cannot be fetched (${(err as Error).message}); ${CORS_HINT}`, { cause: err });
  }
  const n = Number(res.headers.get('content-length') ?? NaN);
  if (!res.ok || !Number.isInteger(n) || n < 0) {
    throw new ModelFormatError(
      url,
      undefined,
      'the server did not tell the file size (no readable Content-Range on a range response, no Content-Length on HEAD); from another origin it must expose Content-Range (Access-Control-Expose-Headers)',
    );
  }
  return n;
}
