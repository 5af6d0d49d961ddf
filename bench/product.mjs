// The product path in headless Chromium (issue 15), CPU backend, weights cached:
//   * add_images: 500 emoji PNGs (npm emoji-datasource-google, 64 px) as files → searchable
//     through `collection.add([{ id, image }])` into a field bound to the image model, against
//     `embedImages` alone on the same files in the same page; the longest main-thread task
//     during the adds (PerformanceObserver `longtask`);
//   * open_to_first_answer_ms: a saved 2,000-item collection persisted in the origin's storage,
//     from navigation start of a fresh load to the first hits (open, restore, search);
//   * reload_identical: the same hits (ids and scores) before and after a reload;
//   * offline_reload and consumer_test: the outcome of tests/browser/offline.test.mjs and of the
//     consumer test (tests/consumer/run.mjs, which also gives tarball_bytes), run now.
// Writes bench/results/product.json and the "Product path" table of BENCHMARKS.md.
//
//   node bench/product.mjs        (after scripts/setup.sh's build_web)
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { launch } from '../tests/browser/harness.mjs';
import { machine, replaceSection } from './report.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = 500;
const SAVED = 2000;
const IMAGES = 'node_modules/emoji-datasource-google/img/google/64';

const files = (await readdir(`${ROOT}/${IMAGES}`)).filter((f) => f.endsWith('.png')).sort().slice(0, N);
const env = await launch();
const browser = `Chromium ${env.browser.version()}`;
const context = await env.browser.newContext();
const page = await context.newPage();
await page.goto(`${env.url}/tests/browser/blank.html`);

// ---- add_images: embedImages alone, then add() through a bound field, same files ----
const addImages = await page.evaluate(async ({ urls }) => {
  const { open } = await import('/pkg/index.js');
  const simil = await open({ backend: 'cpu', storage: 'memory' });
  const blobs = await Promise.all(urls.map(async (u) => (await fetch(u)).blob()));
  await simil.loadImageModel();
  await simil.embedImages(blobs.slice(0, 16)); // warm: the model's first batch
  let t = performance.now();
  await simil.embedImages(blobs, { batchSize: 16 });
  const embedS = (performance.now() - t) / 1000;
  const c = await simil.collection('photos', { fields: [{ name: 'image', metric: 'cosine' }], embed: { image: 'image' } });
  const longTasks = [];
  const observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
  observer.observe({ type: 'longtask' });
  t = performance.now();
  await c.add(blobs.map((image, i) => ({ id: urls[i].split('/').pop(), image, payload: { i } })), { batchSize: 16 });
  const hits = await c.search({ image: blobs[0], k: 1 });
  const addS = (performance.now() - t) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 100));
  observer.disconnect();
  simil.terminate();
  return {
    n: urls.length, images_per_s: urls.length / addS, embed_images_per_s: urls.length / embedS,
    max_long_task_ms: longTasks.length ? Math.max(...longTasks) : 0, found_itself: hits[0].id === urls[0].split('/').pop(),
  };
}, { urls: files.map((f) => `/${IMAGES}/${f}`) });
console.log('add_images', addImages);

// ---- A saved 2,000-item collection, persisted; its answers; open to first answer after a load ----
const QUERY = Array.from({ length: 384 }, (_, i) => Math.sin(i * 0.7));
await page.evaluate(async ({ n, query }) => {
  const { open } = await import('/pkg/index.js');
  const simil = await open({ backend: 'cpu' });
  let seed = 3;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const c = await simil.collection('saved', { fields: [{ name: 'v', dim: 384, metric: 'cosine' }], textFields: ['name'] });
  await c.add(Array.from({ length: n }, (_, i) => ({ id: `item-${i}`, vectors: { v: Float32Array.from({ length: 384 }, random) }, payload: { name: `item ${i}` } })));
  // Let upkeep seal the graphs and write them, as a user's session would before they leave.
  for (let i = 0; i < 60 && (await c.stats()).segments.length !== 1; i++) await new Promise((r) => setTimeout(r, 250));
  await simil.flush();
  simil.terminate();
}, { n: SAVED, query: QUERY });

/** Loads the page afresh and times navigation start → the first hits of the saved collection. */
async function firstAnswer() {
  await page.goto(`${env.url}/tests/browser/blank.html`);
  return page.evaluate(async ({ query }) => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    const hits = await (await simil.collection('saved')).search({ vector: query, k: 10 });
    const ms = performance.now(); // since navigation start
    simil.terminate();
    return { ms, hits: hits.map(({ id, score }) => ({ id, score })) };
  }, { query: QUERY });
}
const first = await firstAnswer();
const again = await firstAnswer();
const reloadIdentical = JSON.stringify(first.hits) === JSON.stringify(again.hits) && first.hits.length === 10;
console.log('open_to_first_answer_ms', first.ms, again.ms, 'reload_identical', reloadIdentical);
await context.close();
await env.close();

// ---- The offline and consumer tests, run now ----
function passes(args) {
  try {
    execFileSync('node', ['--test', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    return 'pass';
  } catch {
    return 'fail';
  }
}
const offline = passes(['tests/browser/offline.test.mjs']);
const consumer = passes(['tests/consumer/run.mjs']);
const tarball = JSON.parse(await readFile(`${ROOT}/tests/out/consumer.json`, 'utf8')).tarball_bytes;

const result = {
  machine, browser,
  add_images: {
    n: addImages.n, images_per_s: addImages.images_per_s, embed_images_per_s: addImages.embed_images_per_s,
    max_long_task_ms: addImages.max_long_task_ms,
  },
  open_to_first_answer_ms: Math.max(first.ms, again.ms),
  reload_identical: reloadIdentical,
  offline_reload: offline, consumer_test: consumer, tarball_bytes: tarball,
};
await writeFile(`${ROOT}/bench/results/product.json`, `${JSON.stringify(result, null, 2)}\n`);

const f1 = (x) => x.toFixed(1);
replaceSection(`${ROOT}/BENCHMARKS.md`, 'Product path', `
Written by \`node bench/product.mjs\` (${machine}, ${browser}, CPU backend, model weights cached
in the page; issue 15's bars in brackets).

| measure | value |
| --- | --- |
| images → searchable through \`add({ image })\`, ${N} emoji PNGs | ${f1(result.add_images.images_per_s)} images/s |
| \`embedImages\` alone, same files, same page | ${f1(result.add_images.embed_images_per_s)} images/s |
| ratio add / embed [≥ 0.9] | ${(result.add_images.images_per_s / result.add_images.embed_images_per_s).toFixed(2)} |
| longest main-thread task during the adds [≤ 100 ms] | ${f1(result.add_images.max_long_task_ms)} ms |
| page load → first hits, saved ${SAVED}-item collection [≤ 1,500 ms; goal 500] | ${Math.round(result.open_to_first_answer_ms)} ms |
| same hits after a reload | ${result.reload_identical} |
| offline reload (tests/browser/offline.test.mjs) | ${result.offline_reload} |
| consumer test (tests/consumer/run.mjs) | ${result.consumer_test} |
| npm tarball [≤ 30 MB] | ${(result.tarball_bytes / 1e6).toFixed(1)} MB |
`);
console.log(JSON.stringify(result, null, 2));
