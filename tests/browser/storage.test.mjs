// Persistence (issue 15): collections are written to the origin's storage (OPFS, or IndexedDB)
// after each batch of changes, atomically, and the next open() restores them; a reload gives
// byte-identical search results; export/import move a collection as a file; a damaged file is
// reported and kept; a full origin is reported with code "quota" and nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, sharedEnv } from './harness.mjs';

const env = sharedEnv();

/** A collection of `n` seeded 32-d vectors with a category each, created or reopened. */
const FILL = async ({ storage, n, name = 'photos' }) => {
  const { open } = await import('/pkg/index.js');
  const simil = await open({ backend: 'cpu', storage });
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const config = { fields: [{ name: 'v', dim: 32, metric: 'cosine' }], sealThreshold: 256, textFields: ['title'] };
  const c = await simil.collection(name, config);
  const items = Array.from({ length: n }, (_, i) => ({
    id: `item-${i}`, vectors: { v: Float32Array.from({ length: 32 }, random) },
    payload: { title: `photo ${i} ${i % 3 ? 'beach' : 'forest'}`, category: i % 4 },
  }));
  if (n) await c.add(items);
  globalThis.simil = simil;
  return { kind: simil.storageKind, query: Array.from(items[0]?.vectors.v ?? []) };
};

/** The answers a user compares across a reload: vector, keyword and filtered hits, exact scores. */
const ANSWERS = async ({ query }) => {
  const c = await globalThis.simil.collection('photos');
  return {
    count: await c.count(),
    byVector: await c.search({ vector: query, k: 10 }),
    byWords: await c.search({ text: 'forest', k: 5 }),
    filtered: await c.search({ vector: query, k: 5, filter: { eq: { field: 'category', value: 2 } } }),
  };
};

for (const storage of ['opfs', 'indexeddb']) {
  test(`collections persist in ${storage} without the page doing anything; a reload answers byte for byte the same`, async () => {
    const { page, errors } = await openPage(env);
    const first = await page.evaluate(FILL, { storage, n: 600 });
    assert.equal(first.kind, storage);
    // Let the worker write and seal (upkeep writes again) before the reload.
    const before = await page.evaluate(async (arg) => {
      await globalThis.simil.flush();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await globalThis.simil.flush();
      const info = await globalThis.simil.storage();
      return { info, ...(await (async () => {
        const c = await globalThis.simil.collection('photos');
        const stats = await c.stats();
        return { segments: stats.segments.length };
      })()) };
    }, first);
    assert.deepEqual(before.info.unsaved, []);
    assert.equal(before.info.error, null);
    assert.deepEqual(before.info.collections.map((c) => c.name), ['photos']);
    const answersBefore = await page.evaluate(ANSWERS, first);

    await page.reload();
    const after = await page.evaluate(async ({ storage, query }) => {
      const { open } = await import('/pkg/index.js');
      globalThis.simil = await open({ backend: 'cpu', storage });
      return { listed: await globalThis.simil.listCollections(), info: await globalThis.simil.storage() };
    }, { storage, query: first.query });
    assert.deepEqual(after.listed, ['photos']);
    assert.deepEqual(after.info.damaged, []);
    const answersAfter = await page.evaluate(ANSWERS, first);
    assert.equal(answersAfter.count, 600);
    assert.deepEqual(answersAfter, answersBefore);
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test('reopening with another config rejects; export, delete and import move a collection as a file', async () => {
  const { page, errors } = await openPage(env);
  const first = await page.evaluate(FILL, { storage: 'auto', n: 50 });
  const result = await page.evaluate(async ({ query }) => {
    const simil = globalThis.simil;
    const other = await simil.collection('photos', { fields: [{ name: 'v', dim: 8, metric: 'cosine' }] }).catch((e) => e.code);
    const c = await simil.collection('photos');
    const hits = await c.search({ vector: query, k: 5 });
    const file = await c.export();
    const deleted = await simil.deleteCollection('photos');
    await simil.flush();
    const afterDelete = { listed: await simil.listCollections(), stored: (await simil.storage()).collections };
    const copy = await simil.importCollection('copy', file);
    const again = await copy.search({ vector: query, k: 5 });
    const bad = await simil.importCollection('bad', new Blob([new Uint8Array([1, 2, 3])])).catch((e) => e.code);
    // An import that fails half way (the file cut short) over an existing collection keeps it.
    const cut = new Blob([(await file.arrayBuffer()).slice(0, Math.floor(file.size / 2))]);
    const overCopy = await simil.importCollection('copy', cut).catch((e) => e.code);
    const kept = JSON.stringify(await (await simil.collection('copy')).search({ vector: query, k: 5 })) === JSON.stringify(hits);
    await simil.flush();
    // What the origin holds, read by the page itself.
    const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('simil');
    const files = [];
    for await (const [name] of folder.entries()) files.push(name);
    return { other, isBlob: file instanceof Blob, deleted, afterDelete, same: JSON.stringify(again) === JSON.stringify(hits), bad, overCopy, kept, files: files.sort(), listed: await simil.listCollections() };
  }, first);
  assert.equal(result.other, 'collection');
  assert.equal(result.isBlob, true);
  assert.equal(result.deleted, true);
  assert.deepEqual(result.afterDelete, { listed: [], stored: [] });
  assert.equal(result.same, true);
  assert.equal(result.bad, 'index');
  assert.equal(result.overCopy, 'index');
  assert.equal(result.kept, true, 'a failed import over a collection leaves it as it was');
  assert.deepEqual(result.files, ['copy.siml']);
  assert.deepEqual(result.listed, ['copy']);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a worker killed mid-write leaves the previous state or the new one; a damaged file is reported and kept', async () => {
  const { page, errors } = await openPage(env);
  await page.evaluate(FILL, { storage: 'opfs', n: 100 });
  const killed = await page.evaluate(async () => {
    const simil = globalThis.simil;
    await simil.flush();
    const c = await simil.collection('photos');
    const more = Array.from({ length: 4000 }, (_, i) => ({ id: `more-${i}`, vectors: { v: Float32Array.from({ length: 32 }, (_, j) => Math.sin(i + j)) } }));
    await c.add(more);
    simil.flush();
    await new Promise((resolve) => setTimeout(resolve, 5));
    simil.terminate();
    // A damaged file beside it, as a crash of another kind (or a disk error) might leave.
    const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('simil');
    const handle = await folder.getFileHandle('broken.siml', { create: true });
    const w = await handle.createWritable();
    await w.write(new Uint8Array([83, 73, 77, 76, 0, 1, 2]));
    await w.close();
  });
  assert.equal(killed, undefined);
  const reopened = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    const info = await simil.storage();
    const count = await (await simil.collection('photos')).count();
    const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('simil');
    const kept = await folder.getFileHandle('broken.siml').then(() => true, () => false);
    const hits = await (await simil.collection('photos')).search({ vector: new Array(32).fill(0.5), k: 3 });
    return { count, listed: await simil.listCollections(), damaged: info.damaged.map((d) => d.name), kept, hits: hits.length };
  });
  // The state of a completed write: the first 100, or those and some whole batches of 16 of the add.
  assert.ok(reopened.count >= 100 && reopened.count <= 4100 && (reopened.count - 100) % 16 === 0, `count ${reopened.count}`);
  assert.deepEqual(reopened.listed, ['photos']);
  assert.deepEqual(reopened.damaged, ['broken']);
  assert.equal(reopened.hits, 3);
  assert.equal(reopened.kept, true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a full origin is reported with code "quota"; the change stays in memory and is written once there is room', async () => {
  const { page, errors } = await openPage(env);
  const cdp = await page.context().newCDPSession(page);
  const origin = new URL(env.url).origin;
  await page.evaluate(FILL, { storage: 'opfs', n: 0 });
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 64 * 1024 });
  const full = await page.evaluate(async () => {
    const simil = globalThis.simil;
    const c = await simil.collection('photos');
    await c.add(Array.from({ length: 3000 }, (_, i) => ({ id: `x${i}`, vectors: { v: Float32Array.from({ length: 32 }, (_, j) => Math.cos(i * j)) } })));
    await simil.flush();
    const info = await simil.storage();
    return { unsaved: info.unsaved, code: info.error?.code, searchable: (await c.search({ vector: new Array(32).fill(1), k: 1 })).length };
  });
  assert.deepEqual(full, { unsaved: ['photos'], code: 'quota', searchable: 1 });
  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  const roomy = await page.evaluate(async () => {
    await globalThis.simil.flush();
    const info = await globalThis.simil.storage();
    return { unsaved: info.unsaved, error: info.error, bytes: info.collections[0].bytes };
  });
  assert.deepEqual(roomy.unsaved, []);
  assert.equal(roomy.error, null);
  assert.ok(roomy.bytes > 64 * 1024);
  assert.deepEqual(errors.filter((e) => !/could not be saved/.test(e)), []);
  await page.close();
});

test('a page closed in the middle of a write leaves the previous state or the new one', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.url}/tests/browser/blank.html`);
  await page.evaluate(FILL, { storage: 'opfs', n: 100 });
  await page.evaluate(async () => {
    await globalThis.simil.flush();
    const c = await globalThis.simil.collection('photos');
    await c.add(Array.from({ length: 6000 }, (_, i) => ({ id: `late-${i}`, vectors: { v: Float32Array.from({ length: 32 }, (_, j) => Math.cos(i - j)) } })), { batchSize: 256 });
    globalThis.simil.flush();
    await new Promise((resolve) => setTimeout(resolve, 3));
  });
  await page.close(); // mid-write, or just after
  const again = await context.newPage();
  const errors = [];
  again.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
  await again.goto(`${env.url}/tests/browser/blank.html`);
  const reopened = await again.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    const c = await simil.collection('photos');
    const info = await simil.storage();
    const hits = await c.search({ vector: new Array(32).fill(0.5), k: 3 });
    return { count: await c.count(), damaged: info.damaged, hits: hits.length };
  });
  assert.ok(reopened.count >= 100 && reopened.count <= 6100 && (reopened.count - 100) % 256 === 0 || reopened.count === 6100, `count ${reopened.count}`);
  assert.deepEqual(reopened.damaged, []);
  assert.equal(reopened.hits, 3);
  assert.deepEqual(errors, []);
  await context.close();
});
