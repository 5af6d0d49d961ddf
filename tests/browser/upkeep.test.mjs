// Index upkeep (issue 18, items 1 and 2): a collection's first graph is built in simil's builder
// worker (pkg/build-worker.js) while simil's worker answers searches and takes writes, and is
// applied keeping every write made during the build; later writes are inserted into that graph
// by the builder too (it keeps a copy of the graph and sends back the links that changed), until
// one graph holds everything; a growth step that fails there would warn. Every answer (during and
// after) equals a brute-force check over the live items.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedEnv } from './harness.mjs';

const env = sharedEnv();

test('graphs build in the builder worker while searches and writes go on, and nothing is lost', async () => {
  const page = await env.browser.newPage();
  const errors = [];
  const warnings = [];
  const workers = [];
  page.on('worker', (w) => workers.push(new URL(w.url()).pathname));
  page.on('console', (msg) => msg.type() === 'warning' && warnings.push(msg.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
  await page.goto(`${env.url}/tests/browser/blank.html`);
  const r = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ storage: 'memory' });
    const dim = 48;
    const uniform = (await import('/tests/browser/seeded.js')).mulberry32(11);
    const unit = () => {
      const v = Float32Array.from({ length: dim }, () => uniform() - 0.5);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    };
    const live = new Map();
    const put = (id) => {
      const v = unit();
      live.set(id, v);
      return { id, vectors: { v } };
    };
    const c = await simil.createCollection('growing', { fields: [{ name: 'v', dim, metric: 'cosine' }], sealThreshold: 1000 });
    await c.add(Array.from({ length: 4000 }, (_, i) => put(`i${i}`)));

    // Brute force over the live items: the ids of the k best.
    const best = (q, k) => [...live].map(([id, v]) => [id, v.reduce((s, x, j) => s + x * q[j], 0)])
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, k).map(([id]) => id);
    const check = async () => {
      const q = unit();
      const got = (await c.search({ vector: q, k: 10, exact: true })).map((h) => h.id);
      return JSON.stringify(got) === JSON.stringify(best(q, 10));
    };

    // While upkeep runs: writes and exact searches, each checked.
    const during = [];
    let round = 0;
    let stats = await c.stats();
    const settled = (s) => s.segments.filter((g) => g.kind === 'mutable').every((g) => g.rows < 1000);
    for (; round < 400 && (round < 5 || !settled(stats)); round++) {
      const victim = `i${round * 7}`;
      if (live.delete(victim)) await c.delete([victim]);
      await c.add([put(`i${round * 13 + 1}`), put(`new${round}`)]); // an upsert and a new item
      during.push(await check());
      stats = await c.stats();
    }
    // Growth goes on between calls until the exact segment is empty and one graph holds all.
    const grown = (s) => s.segments.every((g) => g.kind === 'sealed' || g.rows === 0);
    for (let wait = 0; wait < 200 && !grown(stats); wait++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stats = await c.stats();
    }
    // Then, settled: the count, exact answers and the graph's recall.
    const after = [];
    let recall = 0;
    for (let i = 0; i < 30; i++) {
      after.push(await check());
      const q = unit();
      const approx = new Set((await c.search({ vector: q, k: 10 })).map((h) => h.id));
      recall += best(q, 10).filter((id) => approx.has(id)).length / 10 / 30;
    }
    const count = await c.count();
    const { builder } = await simil.memory();
    simil.terminate();
    return { during, after, recall, count, live: live.size, rounds: round, stats, builder };
  });
  await page.close();
  assert.deepEqual(errors, []);
  assert.ok(workers.includes('/pkg/build-worker.js'), `the builder worker ran: ${workers}`);
  assert.deepEqual(warnings.filter((w) => /builder|upkeep/.test(w)), [], 'every build ran in the builder worker');
  assert.ok(r.during.length >= 5 && r.during.every(Boolean), `every answer during upkeep is exact (${r.during.filter((x) => !x).length} of ${r.during.length} wrong)`);
  assert.ok(r.after.every(Boolean), 'every exact answer after upkeep');
  assert.equal(r.count, r.live, 'writes made during the builds are all there');
  const sealed = r.stats.segments.filter((s) => s.kind === 'sealed');
  const mutable = r.stats.segments.find((s) => s.kind === 'mutable');
  assert.ok(sealed.length === 1 && mutable.rows === 0, `one graph holds every item: ${JSON.stringify(r.stats.segments)}`);
  assert.ok(r.recall >= 0.9, `recall@10 through the graphs ${r.recall}`);
  // The builder keeps its copy of the grown graph (every vector once more), and says so.
  assert.ok(r.builder > r.count * 48 * 4, `the builder's memory is reported: ${r.builder}`);
});
