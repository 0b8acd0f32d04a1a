// Test-only HTTP server over one folder with single byte ranges, like a static file host or CDN, plus the
// misbehaviours a weight reader must survive: ignoring Range, hiding Content-Range (as CORS does).
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface RangeServerOptions {
  /** Answer every GET with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Leave out Content-Range on 206 answers (the browser view of a cross-origin server that does not expose it). */
  hideContentRange?: boolean;
}

export interface RangeServer {
  /** Folder URL with a trailing slash. */
  url: string;
  /** "GET name range → status" per request, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function serveFolder(dir: string, opts: RangeServerOptions = {}): Promise<RangeServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
      const range = req.headers.range;
      const reply = (status: number, headers: Record<string, string | number> = {}, body?: Uint8Array) => {
        requests.push(`${req.method} ${name} ${range ?? '-'} → ${status}`);
        res.writeHead(status, headers);
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      const data = name.includes('/') ? null : await readFile(join(dir, name)).catch(() => null);
      if (!data) return reply(404);
      const m = range && !opts.ignoreRange ? /^bytes=(\d+)-(\d+)$/.exec(range) : null;
      if (!m) return reply(200, { 'Content-Length': data.byteLength }, data);
      const start = Number(m[1]);
      const end = Math.min(Number(m[2]), data.byteLength - 1);
      if (start >= data.byteLength) return reply(416, { 'Content-Range': `bytes */${data.byteLength}` });
      const headers: Record<string, string | number> = { 'Content-Length': end - start + 1 };
      if (!opts.hideContentRange) headers['Content-Range'] = `bytes ${start}-${end}/${data.byteLength}`;
      reply(206, headers, data.subarray(start, end + 1));
    })();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, requests, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}
