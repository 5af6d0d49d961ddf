// The thin slice end to end in a real browser: a collection built through the JS API over the
// native probe's vectors returns the native exact top-10, and bad input rejects clearly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeReference, openPage, sharedEnv } from './harness.mjs';

let reference;
const env = sharedEnv(async () => {
  reference = await nativeReference('native-probe.json');
});

test('a collection built through the JS API returns the native exact top-10', async () => {
  const { page, errors } = await openPage(env);
  const result = await page.evaluate(async ({ reference }) => {
    const { open } = await import('/pkg/index.js');
    const simil = await open();
    // The digits as the native probe projected them (burn's own parity on WebGPU and the CPU
    // is embed.test.mjs's); half go in as plain arrays, half as Float32Array views.
    const vectors = Float32Array.from(reference.vectors);
    const dim = reference.output_dim;
    const row = (i) => vectors.subarray(i * dim, (i + 1) * dim);
    const collection = await simil.createCollection('probe', {
      fields: [{ name: 'pixels', dim, metric: 'cosine' }],
    });
    const n = vectors.length / dim;
    await collection.add(Array.from({ length: n }, (_, i) => ({
      id: String(i), vectors: { pixels: i % 2 ? row(i) : Array.from(row(i)) },
    })));
    const tops = [];
    for (const q of reference.queries) {
      const hits = await collection.search({ vector: row(q.index), k: 10 });
      tops.push(hits.map((h) => h.id));
    }
    const stored = await collection.get('1');
    const count = await collection.count();
    simil.terminate();
    return { count, tops, storedDiff: Math.max(...stored.vectors.pixels.map((x, j) => Math.abs(x - row(1)[j]))) };
  }, { reference });

  assert.equal(result.count, reference.vectors.length / reference.output_dim);
  assert.equal(result.storedDiff, 0, 'a vector reads back exactly as it went in');
  assert.deepEqual(result.tops, reference.queries.map((q) => q.top10));
  assert.deepEqual(errors, []);
  await page.close();
});

test('bad input rejects with a SimilError that names the cause', async () => {
  const { page } = await openPage(env);
  const result = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const capture = (p) => p.then(() => null, (e) => ({ name: e.name, code: e.code, message: e.message, isError: e instanceof Error }));
    const badBackend = await capture(open({ backend: 'quantum' }));
    const missingWorker = await capture(open({ workerUrl: '/nowhere/worker.js' }));
    const simil = await open({ backend: 'cpu' });
    const c = await simil.createCollection('c', { fields: [{ name: 'v', dim: 3, metric: 'l2' }] });
    const wrongDim = await capture(c.add([{ id: 'a', vectors: { v: [1, 2] } }]));
    const noCollection = await capture(simil.createCollection('c', { fields: [{ name: 'v', dim: 3, metric: 'l2' }] }));
    const badQuery = await capture(c.search({ k: 3 }));
    const badK = await capture(c.search({ vector: [1, 2, 3], k: 0 }));
    const badConfig = await capture(simil.createCollection('d', { fields: [{ name: 'v', dim: 3, metric: 'manhattan' }] }));
    simil.terminate();
    return { badBackend, missingWorker, wrongDim, noCollection, badQuery, badK, badConfig };
  });
  for (const [what, e] of Object.entries(result)) {
    assert.ok(e, `${what} should have rejected`);
    assert.equal(e.isError, true, `${what} rejects with an Error`);
    assert.equal(e.name, 'SimilError', `${what}: ${e.message}`);
  }
  assert.match(result.badBackend.message, /unknown backend `quantum`/);
  assert.equal(result.missingWorker.code, 'worker');
  assert.match(result.wrongDim.message, /field `v` expects 3 dimensions, got 2/);
  assert.match(result.noCollection.message, /exists already/);
  assert.match(result.badQuery.message, /needs `vector`/);
  assert.match(result.badK.message, /`k` must be between 1 and 10000, got 0/);
  assert.match(result.badConfig.message, /invalid collection config.*manhattan/);
  await page.close();
});
