// A small static file server for the demo and the browser tests. It listens on 127.0.0.1 only
// (a secure context, so WebGPU is allowed) and serves the repository root: /www/ is the demo,
// /pkg/ the package. Usage: node scripts/serve.mjs [port]   (Ctrl-C stops it)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.ts': 'text/plain; charset=utf-8',
};

/**
 * The Content-Security-Policy the demo is served with (`node scripts/serve.mjs`, and the CSP
 * test): scripts, workers, connections and everything else from the page's own origin only,
 * plus the compilation of WebAssembly. simil ships no `eval`, `new Function` or inline script.
 */
export const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; worker-src 'self'";

/** Starts the server; resolves to `{ url, close }`. Port 0 picks a free one; `headers` go on every answer. */
export function startServer({ port = 0, root = ROOT, headers = {} } = {}) {
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
      if (path === '/') {
        res.writeHead(302, { location: '/www/' });
        res.end();
        return;
      }
      let file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) {
        res.writeHead(403).end('forbidden');
        return;
      }
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        ...headers,
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
        // The demo's service worker controls the whole site (www/ and pkg/, where simil's
        // worker lives), not only its own folder: www/sw.js explains why.
        ...(path === '/www/sw.js' ? { 'service-worker-allowed': '/' } : {}),
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address();
      resolve({ url: `http://127.0.0.1:${bound}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
  const { url } = await startServer({ port, headers: { 'content-security-policy': CSP } });
  console.log(`simil demo: ${url}/www/   (Ctrl-C to stop)`);
  process.on('SIGINT', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
