// Writes pkg/wasm/manifest.json: the SHA-256 and size of each wasm module in pkg/wasm/, which
// pkg/cache.js checks a module against before it uses (and caches) it. scripts/setup.sh's
// build_web runs it after building the modules; run it again after rebuilding one by hand.
//   node scripts/wasm-manifest.mjs [folder]   (default: pkg/wasm)
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const folder = process.argv[2] ?? fileURLToPath(new URL('../pkg/wasm/', import.meta.url));
const names = (await readdir(folder)).filter((name) => name.endsWith('.wasm')).sort();
if (!names.length) throw new Error(`no .wasm files in ${folder}`);
const files = {};
for (const name of names) {
  const bytes = await readFile(join(folder, name));
  files[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}
await writeFile(join(folder, 'manifest.json'), `${JSON.stringify({ files }, null, 2)}\n`);
console.log(`${join(folder, 'manifest.json')}: ${names.join(', ')}`);
