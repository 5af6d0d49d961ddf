// The vector index through the JS API, in the browser: payload filters, idle-time sealing
// into HNSW segments while searches keep answering, int8 fields, save/load and corrupt bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inPage, mnist, openPage, sharedEnv } from './harness.mjs';

const digits = await mnist(60);
const env = sharedEnv();

test('filters, sealing, int8, save/load and corruption behave in the worker', async () => {
  const { result: r, errors } = await inPage(env, 'cpu', async (simil, { pixels, labels }) => {
    const dim = 32;
    // The digits through a seeded Gaussian random projection, 784 → dim, written here: the index
    // needs vectors, not a model (this page never fetches the model module).
    const uniform = (await import('/tests/browser/seeded.js')).mulberry32(3);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    const projection = Float32Array.from({ length: 784 * dim }, gauss);
    const n = labels.length;
    const vectors = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 784; k++) {
        const x = pixels[i * 784 + k];
        if (x !== 0) for (let j = 0; j < dim; j++) vectors[i * dim + j] += x * projection[k * dim + j];
      }
    }
    const item = (i) => ({
      id: `d${i}`,
      vectors: { v: vectors.subarray(i * dim, (i + 1) * dim), q: vectors.subarray(i * dim, (i + 1) * dim) },
      payload: { label: labels[i], odd: i % 2 === 1, rank: i },
    });
    const c = await simil.createCollection('digits', {
      fields: [{ name: 'v', dim, metric: 'cosine' }, { name: 'q', dim, metric: 'cosine', storage: 'int8' }],
      sealThreshold: 128,
    });
    await c.add(Array.from({ length: n }, (_, i) => item(i)));
    const query = (i, extra = {}) => ({ vector: vectors.subarray(i * dim, (i + 1) * dim), k: 10, ...extra });

    // Wait until idle-time upkeep has sealed the exact segment into HNSW segments.
    let stats;
    for (let t = 0; t < 200; t++) {
      stats = await c.stats();
      if (stats.segments.some((s) => s.kind === 'sealed') && stats.segments[0].rows < 128) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const exact = [];
    const approx = [];
    const approxInt8 = [];
    for (let i = 0; i < n; i += 25) {
      exact.push((await c.search(query(i, { exact: true }))).map((h) => h.id));
      approx.push((await c.search(query(i))).map((h) => h.id));
      approxInt8.push((await c.search({ ...query(i), field: 'q' })).map((h) => h.id));
    }
    const filtered = await c.search(query(0, { k: 20, filter: { and: [{ eq: { field: 'label', value: 7 } }, { range: { field: 'rank', gte: 430 } }] } }));
    const notOdd = await c.search(query(1, { k: 30, filter: { not: { eq: { field: 'odd', value: true } } } }));
    const minScore = await c.search(query(5, { k: 50, minScore: 0.99 }));

    await c.delete(['d0']);
    const afterDelete = (await c.search(query(0, { exact: true }))).map((h) => h.id);
    await c.add([{ ...item(3), payload: { label: 'replaced' } }]);
    const replaced = await c.get('d3');

    const bytes = await c.save();
    const restored = await simil.loadCollection('copy', bytes.slice());
    const same = [];
    for (let i = 0; i < n; i += 50) {
      const a = (await c.search(query(i))).map((h) => [h.id, h.score]);
      const b = (await restored.search(query(i))).map((h) => [h.id, h.score]);
      same.push(JSON.stringify(a) === JSON.stringify(b));
    }
    const capture = (p) => p.then(() => null, (e) => ({ name: e.name, code: e.code, message: e.message }));
    const flipped = bytes.slice();
    flipped[Math.floor(flipped.length / 2)] ^= 0x40;
    const corrupt = await capture(simil.loadCollection('bad', flipped));
    const truncated = await capture(simil.loadCollection('bad', bytes.slice(0, bytes.length - 7)));
    const missingBad = await capture(simil.loadCollection('bad', new Uint8Array(0)).then(() => null));
    const badFilter = await capture(c.search(query(0, { filter: { like: { field: 'label' } } })));
    const badEf = await capture(c.setEfSearch(0));
    await c.setEfSearch(24);
    const ef = (await c.config()).hnsw.efSearch;
    const afterEf = (await c.search(query(10))).map((h) => h.id);
    simil.terminate();
    return {
      n, stats, exact, approx, approxInt8, filtered, notOdd, minScore, afterDelete, replaced,
      same, corrupt, truncated, missingBad, badFilter, bytes: bytes.length, badEf, ef, afterEf,
    };
  }, digits);

  assert.ok(r.stats.segments.some((s) => s.kind === 'sealed'), JSON.stringify(r.stats));
  assert.equal(r.stats.items, r.n);
  const recall = (got) => got.reduce((sum, ids, i) => sum + ids.filter((id) => r.exact[i].includes(id)).length, 0) / (10 * r.exact.length);
  assert.ok(recall(r.approx) >= 0.95, `f32 recall@10 ${recall(r.approx)}`);
  assert.ok(recall(r.approxInt8) >= 0.9, `int8 recall@10 ${recall(r.approxInt8)}`);
  assert.ok(r.filtered.length > 0 && r.filtered.length <= 20);
  for (const h of r.filtered) {
    assert.equal(h.payload.label, 7);
    assert.ok(h.payload.rank >= 430);
  }
  assert.ok(r.notOdd.every((h) => h.payload.odd === false) && r.notOdd.length === 30);
  assert.ok(r.minScore.every((h) => h.score >= 0.99) && r.minScore.length >= 1);
  assert.ok(!r.afterDelete.includes('d0'));
  assert.equal(r.replaced.payload.label, 'replaced');
  assert.ok(r.same.every(Boolean), 'a loaded collection answers exactly as the saved one');
  for (const e of [r.corrupt, r.truncated, r.missingBad, r.badFilter]) {
    assert.ok(e, 'should have rejected');
    assert.equal(e.name, 'SimilError');
  }
  assert.equal(r.corrupt.code, 'index');
  assert.match(r.badFilter.message, /invalid query/);
  assert.equal(r.badEf?.code, 'index', 'ef_search 0 is out of range');
  assert.equal(r.ef, 24);
  assert.equal(r.afterEf.length, 10);
  assert.ok(r.afterEf.includes('d10'), 'a narrower beam still finds the query item itself');
  assert.deepEqual(errors, []);
});

test('keyword and hybrid queries rank what either signal finds, and survive save/load', async () => {
  const { page, errors } = await openPage(env);
  const r = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    // 2-d vectors on a circle; names and tags are the text fields.
    const at = (deg) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
    const c = await simil.createCollection('shop', {
      fields: [{ name: 'v', dim: 2, metric: 'cosine' }],
      textFields: ['name', 'tags'],
    });
    await c.add([
      { id: 'strawberry', vectors: { v: at(5) }, payload: { name: 'strawberry', aisle: 1 } },
      { id: 'sku', vectors: { v: at(170) }, payload: { name: 'SKU-204', tags: ['fruit', 'red'], aisle: 2 } },
      { id: 'whale', vectors: { v: at(90) }, payload: { name: 'blue whale', aisle: 1 } },
      { id: 'piano', vectors: { v: at(120) }, payload: { name: 'grand piano', aisle: 2 } },
    ]);
    const ids = (hits) => hits.map((h) => h.id);
    const keyword = await c.search({ text: 'red fruit', k: 5 });
    const hybrid = await c.search({ vector: at(0), text: 'red fruit', k: 2 });
    const filtered = await c.search({ text: 'whale piano', k: 5, filter: { eq: { field: 'aisle', value: 2 } } });
    const copy = await simil.loadCollection('copy', await c.save());
    const reloaded = await copy.search({ vector: at(0), text: 'red fruit', k: 2 });
    const plain = await simil.createCollection('plain', { fields: [{ name: 'v', dim: 2, metric: 'cosine' }] });
    const noText = await plain.search({ text: 'fruit', k: 3 }).then(() => null, (e) => ({ name: e.name, code: e.code, message: e.message }));
    simil.terminate();
    return { keyword: ids(keyword), hybrid, filtered: ids(filtered), reloaded, noText };
  });
  assert.deepEqual(r.keyword, ['sku']);
  assert.deepEqual(r.hybrid.map((h) => h.id), ['sku', 'strawberry'], 'BM25 finds the SKU, the vector the strawberry');
  assert.ok(Math.abs(r.hybrid[0].score - (1 / 64 + 1 / 61)) < 1e-6, String(r.hybrid[0].score));
  assert.deepEqual(r.filtered, ['piano']);
  assert.deepEqual(r.reloaded, r.hybrid);
  assert.equal(r.noText?.name, 'SimilError');
  assert.match(r.noText.message, /textFields/);
  assert.deepEqual(errors, []);
  await page.close();
});
