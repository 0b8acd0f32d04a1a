// A small static HTTP server for the example and its test: URL prefixes mapped to folders, with the single
// byte ranges (Range: bytes=a-b, a-, -n) that the page's weight reader asks for. Local use only.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';

/** URL prefix ("/", "/model/") → folder on disk. The longest matching prefix wins. */
export type StaticRoutes = Record<string, string>;

export interface StaticServer {
  /** Base URL, e.g. http://127.0.0.1:43567/ */
  url: string;
  /** Requests seen so far ("GET /model/model.safetensors bytes=0-262143 → 206"), for diagnostics. */
  log: string[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.css': 'text/css',
  '.png': 'image/png',
};

export interface StaticServerOptions {
  /**
   * Send Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp with every
   * response, which makes the page cross-origin isolated: SharedArrayBuffer, so the wasm backend's threads.
   */
  crossOriginIsolated?: boolean;
}

/** Serves `routes` on 127.0.0.1 (port 0 = any free port). */
export async function startStaticServer(routes: StaticRoutes, port = 0, options: StaticServerOptions = {}): Promise<StaticServer> {
  const prefixes = Object.keys(routes).sort((a, b) => b.length - a.length);
  const log: string[] = [];
  const server = createServer((req, res) => {
    if (options.crossOriginIsolated) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    handle(req, res, routes, prefixes)
      .then((status) => log.push(`${req.method} ${req.url} ${req.headers.range ?? ''} → ${status}`))
      .catch((err: unknown) => {
        log.push(`${req.method} ${req.url} → error ${(err as Error).message}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    log,
    // server.close() alone waits for the browser's idle keep-alive sockets to time out (minutes in Chromium):
    // those connections are dropped at once, so a test that closes its server does not hang.
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: StaticRoutes, prefixes: string[]): Promise<number> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD');
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  const prefix = prefixes.find((p) => path.startsWith(p));
  if (prefix === undefined) return send(res, 404, 'not found');
  const root = resolve(routes[prefix]);
  let file = resolve(root, `.${sep}${path.slice(prefix.length)}`);
  // Never serve anything outside the mapped folder (e.g. /model/../../etc/passwd).
  if (file !== root && !file.startsWith(root + sep)) return send(res, 403, 'outside the served folder');
  let info = await stat(file).catch(() => null);
  if (info?.isDirectory()) {
    file = resolve(file, 'index.html');
    info = await stat(file).catch(() => null);
  }
  if (!info?.isFile()) return send(res, 404, 'not found');
  const size = info.size;
  const headers: Record<string, string | number> = {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-store',
  };
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.range;
  if (range !== undefined) {
    const r = parseRange(range, size);
    if (r === null) {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` });
      res.end();
      return 416;
    }
    [start, end] = r;
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || end < start) {
    res.end();
    return status;
  }
  await new Promise<void>((ok, fail) => {
    createReadStream(file, { start, end }).on('error', fail).pipe(res).on('finish', ok).on('error', fail);
  });
  return status;
}

/** One "bytes=" range clamped to the file, or null when it cannot be satisfied (or is not a single range). */
function parseRange(header: string, size: number): [number, number] | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    return n === 0 || size === 0 ? null : [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || end < start ? null : [start, end];
}

function send(res: ServerResponse, status: number, text: string): number {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
  return status;
}
