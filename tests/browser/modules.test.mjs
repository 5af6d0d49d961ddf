// Modules by need (issue 19): a page that opens a saved collection and searches it loads the
// search module alone; the model module comes with the first model load, the trainer never.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, sharedEnv } from './harness.mjs';

const env = sharedEnv();

/** The wasm and glue files a page asked for, by module name. */
function wasmRequests(page) {
  const seen = [];
  page.on('request', (request) => {
    const m = request.url().match(/\/pkg\/wasm\/(simil_\w+?)(_bg\.wasm|\.js)$/);
    if (m) seen.push(m[1]);
  });
  return seen;
}

test('opening a saved collection and searching it fetches no model or trainer module', async () => {
  // A collection saved by one page, as bytes.
  const first = await openPage(env);
  const saved = await first.page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    const c = await simil.createCollection('notes', {
      fields: [{ name: 'v', dim: 3, metric: 'cosine' }],
      textFields: ['title'],
    });
    await c.add([
      { id: 'a', vectors: { v: [1, 0, 0] }, payload: { title: 'red apple' } },
      { id: 'b', vectors: { v: [0, 1, 0] }, payload: { title: 'green pear' } },
      { id: 'c', vectors: { v: [0.9, 0.1, 0] }, payload: { title: 'red cherry' } },
    ]);
    const bytes = Array.from(await c.save());
    // Collections by name: listed, reopened, dropped.
    const listed = await simil.listCollections();
    const again = await (await simil.collection('notes')).count();
    const missing = await simil.collection('nope').catch((e) => e.code);
    const dropped = [await simil.deleteCollection('notes'), await simil.deleteCollection('notes')];
    return { bytes, listed, again, missing, dropped, after: await simil.listCollections() };
  });
  await first.page.close();
  assert.deepEqual(saved.listed, ['notes']);
  assert.equal(saved.again, 3);
  assert.equal(saved.missing, 'collection');
  assert.deepEqual(saved.dropped, [true, false]);
  assert.deepEqual(saved.after, []);

  const { page, errors } = await openPage(env);
  const requested = wasmRequests(page);
  const result = await page.evaluate(async (bytes) => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    const c = await simil.loadCollection('notes', Uint8Array.from(bytes));
    const byVector = await c.search({ vector: [1, 0, 0], k: 2 });
    const byWords = await c.search({ text: 'red', k: 3 });
    return { byVector: byVector.map((h) => h.id), byWords: byWords.map((h) => h.id).sort() };
  }, saved.bytes);
  assert.deepEqual(result, { byVector: ['a', 'c'], byWords: ['a', 'c'] });
  assert.ok(requested.includes('simil_search'), `requests: ${requested}`);
  assert.ok(!requested.includes('simil_model'), `the model module was fetched: ${requested}`);
  assert.ok(!requested.includes('simil_train'), `the trainer was fetched: ${requested}`);

  // The first model load brings the model module (and still not the trainer).
  await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    await simil.loadTextModel();
  });
  assert.ok(requested.includes('simil_model'), `requests: ${requested}`);
  assert.ok(!requested.includes('simil_train'), `requests: ${requested}`);
  assert.deepEqual(errors, []);
  await page.close();
});
