// The thin slice end to end in a real browser: burn runs in simil's worker on WebGPU
// (SwiftShader) and on the CPU (flex in wasm), matches the native result, and a collection
// built through the JS API returns the native exact top-10.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, mnist, nativeReference, openPage } from './harness.mjs';

let env;
let reference;
let digits;
before(async () => {
  reference = await nativeReference('native-probe.json');
  digits = await mnist(reference.per_class);
  env = await launch();
});
after(async () => env?.close());

for (const backend of ['webgpu', 'cpu']) {
  test(`burn on ${backend} matches native and search matches native exact top-10`, async () => {
    const { page, errors } = await openPage(env);
    const result = await page.evaluate(async ({ backend, pixels, reference }) => {
      const { open } = await import('/pkg/index.js');
      const simil = await open({ backend });
      const rows = Float32Array.from(pixels);
      const dim = reference.output_dim;
      // A test utility of the worker, not public API: a seeded projection on the model's device.
      const vectors = await simil.channel.call('randomProjection', {
        rows, inputDim: reference.input_dim, outputDim: dim, seed: reference.seed,
      });
      let maxDiff = 0;
      for (let i = 0; i < vectors.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(vectors[i] - reference.vectors[i]));
      }
      const collection = await simil.createCollection('probe', {
        fields: [{ name: 'pixels', dim, metric: 'cosine' }],
      });
      const n = vectors.length / dim;
      await collection.add(Array.from({ length: n }, (_, i) => ({
        id: String(i), vectors: { pixels: vectors.subarray(i * dim, (i + 1) * dim) },
      })));
      const tops = [];
      for (const q of reference.queries) {
        const hits = await collection.search({ vector: vectors.subarray(q.index * dim, (q.index + 1) * dim), k: 10 });
        tops.push(hits.map((h) => h.id));
      }
      const count = await collection.count();
      simil.terminate();
      return { backend: simil.backend, length: vectors.length, maxDiff, tops, count };
    }, { backend, pixels: digits.pixels, reference });

    assert.equal(result.backend, backend);
    assert.equal(result.length, reference.vectors.length);
    assert.ok(result.maxDiff <= 1e-4, `max abs diff ${result.maxDiff} > 1e-4 on ${backend}`);
    assert.equal(result.count, digits.labels.length);
    assert.deepEqual(result.tops, reference.queries.map((q) => q.top10));
    assert.deepEqual(errors, []);
    await page.close();
  });
}

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
