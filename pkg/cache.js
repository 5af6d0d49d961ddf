// The package's big files (the three wasm modules, the model weights and tokenizer) kept in the
// origin's Cache API after their first download, each checked against its SHA-256, so a second
// visit loads them without the network (offline too). Runs in simil's worker.
//
// Where a file's expected hash comes from:
//  * a wasm module: `wasm/manifest.json` (name → { sha256, size }), written at build time by
//    scripts/wasm-manifest.mjs;
//  * a weights file named as simil's own (`mobilenet_v2.*`, `inception_v3.*`, `minilm.*`): the
//    `<file>.sha256` beside it (for the files the package ships, the literal URLs below, which a
//    bundler copies and renames along with the files).
// The hash files are small: they are fetched again on each load when the browser is online (so a
// file replaced at the same URL is noticed) and kept in the cache for offline loads. A cached file
// whose bytes do not match the expected hash is dropped and downloaded again; a downloaded file
// that does not match rejects with a SimilError-shaped `{ code: 'model' | 'wasm' }` naming it.
// Other URLs (CLIP checkpoints, collection files) are fetched as before and not cached; files
// given as bytes never reach this module. Without the Cache API (a storage error), files are
// fetched and checked all the same, and not kept; on an insecure origin (no Cache API, no
// crypto.subtle) they are fetched as they are.

import { fail } from './protocol.js';

/** The cache's name; opening it deletes the caches of other versions (`simil-v<n>`). */
export const CACHE_NAME = 'simil-v1';

const MANIFEST = () => new URL('./wasm/manifest.json', import.meta.url);

// The weights the package ships and their hash files, as literal URLs a bundler follows (Vite
// gives each a hashed name in dist/assets/, where `<file>.sha256` beside it would not exist).
const SHIPPED = [
  () => [new URL('./weights/mobilenet_v2.int8.safetensors', import.meta.url), new URL('./weights/mobilenet_v2.int8.safetensors.sha256', import.meta.url)],
  () => [new URL('./weights/mobilenet_v2.whitening.safetensors', import.meta.url), new URL('./weights/mobilenet_v2.whitening.safetensors.sha256', import.meta.url)],
  () => [new URL('./weights/minilm.int8.safetensors', import.meta.url), new URL('./weights/minilm.int8.safetensors.sha256', import.meta.url)],
  () => [new URL('./weights/minilm.tokenizer.json', import.meta.url), new URL('./weights/minilm.tokenizer.json.sha256', import.meta.url)],
];

/** simil's own weight files (scripts/setup.sh writes a `.sha256` beside each). */
const OWN_WEIGHTS = /^(mobilenet_v2|inception_v3|minilm)\.[\w.-]+$/;

const fileName = (url) => decodeURIComponent(new URL(url).pathname.split('/').pop());

let opened = null;
/** The cache, or null where the Cache API is missing or cannot be opened. */
function openCache() {
  opened ??= (typeof caches === 'undefined' ? Promise.resolve(null) : (async () => {
    for (const name of await caches.keys()) {
      if (/^simil-v\d+$/.test(name) && name !== CACHE_NAME) await caches.delete(name);
    }
    return caches.open(CACHE_NAME);
  })()).catch((e) => {
    console.warn(`simil: the Cache API is not usable (${e?.message ?? e}); files will be downloaded on each visit`);
    return null;
  });
  return opened;
}

const offline = () => globalThis.navigator?.onLine === false;

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Stores `body` under `url`, quietly giving up when the cache refuses (quota, private mode). */
async function keep(cache, url, body, type) {
  if (!cache || !/^https?:/.test(url)) return; // a bundler may inline a small file as a data: URL
  try {
    await cache.put(url, new Response(body, { headers: { 'content-type': type } }));
  } catch (e) {
    console.warn(`simil: ${fileName(url)} could not be cached (${e?.message ?? e})`);
  }
}

/**
 * A small text file (a manifest or a `.sha256`): from the network when online (then cached),
 * else from the cache. Resolves to its text, or null when the server has no such file (404).
 */
async function smallFile(url, what, code) {
  const cache = /^https?:/.test(url) ? await openCache() : null;
  const cached = async () => {
    const hit = await cache?.match(url).catch(() => undefined);
    return hit ? hit.text() : undefined;
  };
  if (offline()) {
    const text = await cached();
    if (text !== undefined) return text;
  }
  let response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    const text = await cached();
    if (text !== undefined) return text;
    throw fail(code, `could not fetch ${what} from ${url}: ${e?.message ?? e}`);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw fail(code, `could not fetch ${what} from ${url}: HTTP ${response.status} ${response.statusText}`);
  const text = await response.text();
  await keep(cache, url, text, response.headers.get('content-type') ?? 'text/plain');
  return text;
}

let manifest = null;
/** The wasm manifest's entry for module file `name` ({ sha256, size }). */
async function manifestEntry(name) {
  manifest ??= (async () => {
    const url = MANIFEST().href;
    const text = await smallFile(url, "simil's wasm manifest", 'wasm');
    if (text === null) throw fail('wasm', `simil's wasm manifest is missing (${url}): rebuild the package (scripts/setup.sh's build_web)`);
    return JSON.parse(text).files;
  })().catch((e) => {
    manifest = null;
    throw e.code ? e : fail('wasm', `simil's wasm manifest could not be read: ${e?.message ?? e}`);
  });
  const entry = (await manifest)[name];
  if (!entry) throw fail('wasm', `${name} is not in simil's wasm manifest: rebuild the package (scripts/setup.sh's build_web)`);
  return entry;
}

/** Where `url`'s hash lives, or null for a file simil does not verify (nor cache). */
function hashUrl(url) {
  for (const pair of SHIPPED) {
    const [file, hash] = pair();
    if (file.href === url) return hash.href;
  }
  return OWN_WEIGHTS.test(fileName(url)) ? `${url}.sha256` : null;
}

/**
 * Downloads `url`, reporting `{ status: 'download', file, url, loaded, total }` to `progress` as
 * it reads (`total`: Content-Length, or null when unknown or compressed), at most every 50 ms and
 * once more when complete; `checkCancelled()` (throws) between chunks. Resolves to the bytes.
 */
async function download(url, { progress, checkCancelled, file }) {
  let reader;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const length = Number(response.headers.get('content-length'));
    let total = !encoded && Number.isSafeInteger(length) && length > 0 ? length : null;
    const report = (loaded) => progress?.({ status: 'download', file, url, loaded, total });
    if (!response.body) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      total = bytes.length;
      report(bytes.length);
      return bytes;
    }
    reader = response.body.getReader();
    const chunks = [];
    let loaded = 0;
    let reported = 0;
    report(0);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      if (total !== null && loaded > total) total = null; // the server's length was not the body's
      checkCancelled?.();
      if (Date.now() - reported >= 50) {
        reported = Date.now();
        report(loaded);
      }
    }
    total = loaded;
    report(loaded);
    if (chunks.length === 1) return chunks[0];
    const bytes = new Uint8Array(loaded);
    chunks.reduce((offset, chunk) => (bytes.set(chunk, offset), offset + chunk.length), 0);
    return bytes;
  } catch (e) {
    reader?.cancel().catch(() => {});
    throw e;
  }
}

/**
 * The bytes of `url` (an absolute URL), from the cache when a verified copy is there, else
 * downloaded, verified and cached. `expected()` resolves to the file's SHA-256 (hex) or null
 * (then nothing is checked nor cached). A cache hit reports one progress event with
 * `loaded === total` and `cached: true`.
 */
async function cachedBytes(url, { expected, code, what, progress, checkCancelled }) {
  const file = fileName(url);
  const verifiable = globalThis.crypto?.subtle !== undefined;
  const [cache, sha256] = await Promise.all([openCache(), verifiable ? expected() : null]);
  if (sha256 && cache) {
    const hit = await cache.match(url).catch(() => undefined);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if (await sha256Hex(bytes) === sha256) {
        progress?.({ status: 'download', file, url, loaded: bytes.length, total: bytes.length, cached: true });
        return bytes;
      }
      await cache.delete(url).catch(() => {}); // stale (the file changed) or damaged: fetched again
    }
  }
  let bytes;
  try {
    bytes = await download(url, { progress, checkCancelled, file });
  } catch (e) {
    if (e?.code === 'aborted') throw e;
    throw fail(code, `could not fetch ${what} from ${url}: ${e?.message ?? e}`);
  }
  if (sha256) {
    const actual = await sha256Hex(bytes);
    if (actual !== sha256) {
      throw fail(code, `${file} (${url}) does not match its SHA-256: expected ${sha256}, got ${actual}`
        + (code === 'wasm' ? " (wasm/manifest.json is stale: rebuild with scripts/setup.sh's build_web, or run node scripts/wasm-manifest.mjs)" : ''));
    }
    await keep(cache, url, bytes, code === 'wasm' ? 'application/wasm' : 'application/octet-stream');
  }
  return bytes;
}

/**
 * A model file (weights, whitening, tokenizer) at absolute `url`, for `toBytes`: cached and
 * verified when simil knows its hash, else downloaded as it is. `call` is the worker's call
 * context ({ progress, checkCancelled }). Rejects with code "model" (or "aborted").
 */
export function modelFile(url, what, call) {
  const hash = hashUrl(url);
  const expected = async () => {
    if (!hash) return null;
    const text = await smallFile(hash, `the SHA-256 of ${what}`, 'model');
    if (text === null) return null; // no .sha256 beside it: loaded unchecked, not cached
    const sha256 = text.trim().split(/\s+/)[0].toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw fail('model', `${hash} is not a SHA-256 file`);
    return sha256;
  };
  return cachedBytes(url, {
    expected, code: 'model', what,
    progress: call?.progress && ((p) => call.progress(p)),
    checkCancelled: call?.checkCancelled && (() => call.checkCancelled()),
  });
}

/**
 * A wasm module's bytes (`name`: its file name in wasm/, `url`: where it is served, which a
 * bundler may have renamed), verified against wasm/manifest.json and cached. Rejects with code
 * "wasm".
 */
export async function wasmModule(name, url) {
  const bytes = await cachedBytes(new URL(url).href, {
    expected: async () => (await manifestEntry(name)).sha256, code: 'wasm', what: `simil's ${name}`,
  });
  return bytes;
}
