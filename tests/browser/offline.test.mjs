// Offline after the first visit (issue 15, item 4): the wasm modules and the model files are kept
// in the Cache API by pkg/cache.js (checked against their SHA-256), the page and simil's code by
// the demo's service worker (www/sw.js, the real one, registered with the demo's scope). A
// second visit with the network cut opens, restores the saved collection, searches, embeds a new
// image and trains, with no request failing and no console error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, sharedEnv } from './harness.mjs';

const env = sharedEnv();
const PAGE = '/tests/browser/offline.html';

/** A page of its own context (one context holds both visits), recording what a test checks. */
async function recorded(context) {
  const log = { errors: [], failed: [], network: [] };
  context.on('requestfailed', (r) => log.failed.push(`${r.url()} (${r.failure()?.errorText})`));
  // Requests that got their answer from the network, not from the service worker. (A request the
  // service worker itself makes is seen here too, with serviceWorker() set.)
  context.on('requestfinished', async (r) => {
    const response = await r.response().catch(() => null);
    if (!response?.fromServiceWorker()) log.network.push(`${r.serviceWorker() ? 'sw ' : ''}${r.url()}`);
  });
  context.on('response', (r) => {
    if (r.status() >= 400) log.errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') log.errors.push(msg.text());
  });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('worker', (worker) => worker.on('console', (msg) => {
    if (msg.type() === 'error') log.errors.push(`worker: ${msg.text()}`);
  }));
  return { page, log };
}

/** Solid-colour images with a little noise, as ImageData: `label` is the colour's name. */
const IMAGES = `(colour, n, seed) => Array.from({ length: n }, (_, i) => {
  const canvas = new OffscreenCanvas(48, 48);
  const context = canvas.getContext('2d');
  context.fillStyle = colour;
  context.fillRect(0, 0, 48, 48);
  context.fillStyle = '#fff';
  context.fillRect((i * 7 + seed) % 40, (i * 13 + seed) % 40, 6 + (i % 3), 6);
  return context.getImageData(0, 0, 48, 48);
})`;

const TRAIN = { field: 'image', labelKey: 'colour', output: 'learned', steps: 5, hidden: [16], dim: 8, classesPerBatch: 2, examplesPerClass: 4, selfSupervised: false, seed: 1 };

test('after a first visit, a visit with the network cut opens, restores the collection, searches, embeds and trains', { timeout: 300_000 }, async () => {
  const context = await env.browser.newContext();
  try {
    const { page, log } = await recorded(context);

    // ---- First visit, online: the service worker takes control, simil loads its models,
    // embeds and saves a collection; the wasm modules and weights land in simil's cache. ----
    await page.goto(env.url + PAGE);
    assert.equal(await page.evaluate(() => window.swReady), `${env.url}/www/sw.js`);
    const first = await page.evaluate(async ({ IMAGES, TRAIN }) => {
      const images = new Function(`return ${IMAGES}`)();
      const { open } = await import('/pkg/index.js');
      const simil = await open({ backend: 'cpu' });
      const progress = [];
      const image = await simil.loadImageModel({ onProgress: (p) => progress.push(p) });
      await simil.loadTextModel({ onProgress: (p) => progress.push(p) });
      const c = await simil.createCollection('shots', { fields: [{ name: 'image', dim: image.dim, metric: 'cosine' }], textFields: ['name'] });
      const red = images('#d22', 6, 1);
      const blue = images('#22d', 6, 5);
      const vectors = await simil.embedImages([...red, ...blue]);
      await c.add(vectors.map((v, i) => ({ id: `shot-${i}`, vectors: { image: v }, payload: { colour: i < 6 ? 'red' : 'blue', name: `shot ${i} ${i < 6 ? 'red' : 'blue'}` } })));
      const hits = await c.search({ vector: vectors[2], k: 5 });
      await simil.flush();
      const trained = await c.trainHead(TRAIN); // the trainer module, cached for the second visit
      await simil.flush();
      simil.terminate();
      const last = {};
      for (const p of progress) last[p.file] = p;
      return { hits, last: Object.values(last), cachedReports: progress.filter((p) => p.cached).length, steps: trained.steps, query: Array.from(vectors[2]) };
    }, { IMAGES, TRAIN });
    assert.equal(first.steps, 5);
    assert.equal(first.cachedReports, 0, 'the first visit downloads');
    assert.deepEqual(first.last.map((p) => p.file).sort(),
      ['minilm.int8.safetensors', 'minilm.tokenizer.json', 'mobilenet_v2.int8.safetensors', 'mobilenet_v2.whitening.safetensors']);
    for (const p of first.last) assert.ok(p.loaded > 0 && p.loaded === p.total, `${p.file}: ${p.loaded} of ${p.total}`);
    const cached = await page.evaluate(async () => (await (await caches.open('simil-v1')).keys()).map((r) => new URL(r.url).pathname).sort());
    for (const file of ['/pkg/wasm/simil_search_bg.wasm', '/pkg/wasm/simil_model_bg.wasm', '/pkg/wasm/simil_train_bg.wasm', '/pkg/weights/minilm.int8.safetensors', '/pkg/weights/mobilenet_v2.int8.safetensors']) {
      assert.ok(cached.includes(file), `simil's cache holds ${file}: ${cached}`);
    }
    assert.deepEqual(log.failed, []);
    assert.deepEqual(log.errors, []);

    console.log(`first visit: ${log.network.length} requests answered by the network, e.g. ${log.network.filter((u) => /worker|sw|wasm/.test(u)).join(', ')}`);
    // ---- Second visit, offline ----
    await context.setOffline(true);
    log.network.length = 0;
    await page.reload();
    assert.equal(await page.evaluate(() => window.swReady), `${env.url}/www/sw.js`);
    const second = await page.evaluate(async ({ IMAGES, TRAIN, query }) => {
      const images = new Function(`return ${IMAGES}`)();
      const { open } = await import('/pkg/index.js');
      const simil = await open({ backend: 'cpu' });
      const restored = await simil.listCollections();
      const c = await simil.collection('shots');
      const hits = await c.search({ vector: query, k: 5 });
      const byWords = (await c.search({ text: 'red', k: 3 })).length;
      const progress = [];
      await simil.loadImageModel({ onProgress: (p) => progress.push(p) });
      await simil.loadTextModel({ onProgress: (p) => progress.push(p) });
      const [fresh] = await simil.embedImages(images('#d22', 1, 11));
      const [words] = await simil.embedTexts(['a red square']);
      await c.add([{ id: 'new-red', vectors: { image: fresh }, payload: { colour: 'red', name: 'new red' } }]);
      const nearest = (await c.search({ vector: fresh, k: 1 }))[0].id;
      const trained = await c.trainHead(TRAIN);
      const learned = (await c.search({ field: 'learned', vector: fresh, k: 3 })).length;
      simil.terminate();
      return { online: navigator.onLine, restored, hits, byWords, progress, textDim: words.length, nearest, steps: trained.steps, learned };
    }, { IMAGES, TRAIN, query: first.query });
    assert.equal(second.online, false, 'the browser is offline');
    assert.deepEqual(second.restored, ['shots']);
    assert.deepEqual(second.hits, first.hits, 'the restored collection answers as before');
    assert.ok(second.byWords > 0);
    assert.equal(second.textDim, 384);
    assert.equal(second.nearest, 'new-red');
    assert.equal(second.steps, 5);
    assert.equal(second.learned, 3);
    // Every model file came from simil's cache: one report each, complete, marked cached.
    assert.equal(second.progress.length, 4, JSON.stringify(second.progress));
    for (const p of second.progress) {
      assert.ok(p.cached === true && p.status === 'download' && p.loaded > 0 && p.loaded === p.total, JSON.stringify(p));
    }
    assert.deepEqual(log.failed, [], 'no request failed');
    assert.deepEqual(log.network, [], 'no request reached the network');
    assert.deepEqual(log.errors, [], 'no console error');
  } finally {
    await context.close();
  }
});

test('a cached file that does not match its SHA-256 is fetched again; a download that does not match rejects, naming the file', { timeout: 120_000 }, async () => {
  const context = await env.browser.newContext();
  try {
    const { page, log } = await recorded(context);
    await page.goto(`${env.url}/tests/browser/blank.html`);
    // A damaged copy of the tokenizer in simil's cache: dropped, downloaded again, cached anew.
    const repaired = await page.evaluate(async () => {
      const url = new URL('/pkg/weights/minilm.tokenizer.json', location.href).href;
      const cache = await caches.open('simil-v1');
      await cache.put(url, new Response('{"damaged": true}'));
      const { open } = await import('/pkg/index.js');
      const simil = await open({ backend: 'cpu', storage: 'memory' });
      const progress = [];
      await simil.loadTextModel({ onProgress: (p) => progress.push(p) });
      const [vector] = await simil.embedTexts(['fine']);
      simil.terminate();
      const kept = (await (await cache.match(url)).arrayBuffer()).byteLength;
      const tokenizer = progress.filter((p) => p.file === 'minilm.tokenizer.json');
      return { dim: vector.length, cached: tokenizer.some((p) => p.cached), downloaded: tokenizer.at(-1).loaded, kept };
    });
    assert.equal(repaired.dim, 384);
    assert.equal(repaired.cached, false, 'the damaged copy was not used');
    assert.equal(repaired.kept, repaired.downloaded, 'the cache holds the downloaded file');

    // Files that do not match what the package says they are: a weights file and a wasm module.
    await context.route('**/pkg/weights/mobilenet_v2.whitening.safetensors.sha256', (route) => route.fulfill({ body: `${'0'.repeat(64)}  mobilenet_v2.whitening.safetensors\n` }));
    await context.route('**/pkg/wasm/manifest.json', async (route) => {
      const manifest = await (await route.fetch()).json();
      manifest.files['simil_train_bg.wasm'].sha256 = 'f'.repeat(64);
      return route.fulfill({ json: manifest });
    });
    const refused = await page.evaluate(async () => {
      const { open } = await import('/pkg/index.js');
      const simil = await open({ backend: 'cpu', storage: 'memory' });
      const error = (e) => ({ name: e.name, code: e.code, message: e.message });
      const weights = await simil.loadImageModel().then(() => null, error);
      const c = await simil.createCollection('t', { fields: [{ name: 'v', dim: 4, metric: 'cosine' }] });
      await c.add(Array.from({ length: 8 }, (_, i) => ({ id: `${i}`, vectors: { v: [i % 2, 1 - (i % 2), Math.sin(i), 1] }, payload: { l: String(i % 2) } })));
      const wasm = await c.trainHead({ field: 'v', labelKey: 'l', output: 'h', steps: 2, hidden: [4], dim: 4, classesPerBatch: 2, examplesPerClass: 2, selfSupervised: false }).then(() => null, error);
      const cached = (await (await caches.open('simil-v1')).keys()).map((r) => new URL(r.url).pathname);
      simil.terminate();
      return { weights, wasm, cached };
    });
    assert.equal(refused.weights?.name, 'SimilError');
    assert.equal(refused.weights.code, 'model');
    assert.match(refused.weights.message, /mobilenet_v2\.whitening\.safetensors .*does not match its SHA-256/);
    assert.equal(refused.wasm?.code, 'wasm');
    assert.match(refused.wasm.message, /simil_train_bg\.wasm .*does not match its SHA-256/);
    assert.ok(!refused.cached.includes('/pkg/weights/mobilenet_v2.whitening.safetensors'), 'a file that does not match is not cached');
    assert.ok(!refused.cached.includes('/pkg/wasm/simil_train_bg.wasm'));
    assert.deepEqual(log.failed, []);
    assert.deepEqual(log.errors, []);
  } finally {
    await context.close();
  }
});

test("the demo's service worker precaches every script of the demo and the package", async () => {
  const { readdir, readFile } = await import('node:fs/promises');
  const sw = await readFile(new URL('www/sw.js', ROOT), 'utf8');
  const modules = (await readdir(new URL('www/js/', ROOT))).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3));
  for (const m of modules) assert.ok(sw.includes(`'${m}'`), `www/sw.js precaches www/js/${m}.js`);
  for (const f of (await readdir(new URL('pkg/', ROOT))).filter((f) => f.endsWith('.js'))) {
    assert.ok(sw.includes(`'pkg/${f}'`), `www/sw.js precaches pkg/${f}`);
  }
});
