// Load (issue 17, item 6), in headless Chromium through the package API: 100,000 items in one
// collection (32-d, seeded), then 2,000 queries interleaved with 10,000 writes (adds of new
// ids, upserts of live ids, deletes), one call at a time as a page would make them. Every call
// must succeed; every 10th query is asked exactly (`exact: true`) and compared with a
// brute-force top-10 over a mirror of the live items kept in the page; the search module's
// wasm memory is read before the writes and after. Writes the `load` entry of
// bench/results/hardening.json and the "Load" table of BENCHMARKS.md.
//
//   node bench/load.mjs [--items 100000] [--queries 2000] [--writes 10000]
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { launch } from '../tests/browser/harness.mjs';
import { machine, numberArg, replaceSection } from './report.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = numberArg;
const ITEMS = arg('items', 100_000);
const QUERIES = arg('queries', 2_000);
const WRITES = arg('writes', 10_000);
const DIM = 32;

const env = await launch();
const browser = `Chromium ${env.browser.version()}`;
const page = await env.browser.newPage();
await page.goto(`${env.url}/tests/browser/blank.html`);
const t0 = Date.now();
const load = await page.evaluate(async ({ items, queries, writes, dim }) => {
  const { open } = await import('/pkg/index.js');
  const simil = await open({ backend: 'cpu', storage: 'memory' });
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const vector = () => {
    const v = Float32Array.from({ length: dim }, random);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const live = new Map();
  const c = await simil.collection('load', { fields: [{ name: 'v', dim, metric: 'cosine' }] });
  for (let start = 0; start < items; start += 5000) {
    const batch = [];
    for (let i = start; i < Math.min(items, start + 5000); i++) {
      const v = vector();
      live.set(`i${i}`, v);
      batch.push({ id: `i${i}`, vectors: { v }, payload: { n: i } });
    }
    await c.add(batch);
  }
  const memoryBefore = (await simil.memory()).search;
  let failed = 0;
  let mismatches = 0;
  let checked = 0;
  let next = items;
  const ids = () => [...live.keys()];
  let idList = ids();
  const brute = (q) => {
    const scored = [];
    for (const [id, v] of live) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += q[j] * v[j];
      scored.push([s, id]);
    }
    scored.sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? -1 : 1));
    return scored.slice(0, 10);
  };
  const perQuery = writes / queries;
  let written = 0;
  const t = performance.now();
  for (let q = 0; q < queries; q++) {
    // The writes due before this query: adds, upserts and deletes in turn.
    while (written < Math.round((q + 1) * perQuery)) {
      try {
        const kind = written % 3;
        if (kind === 0) {
          const v = vector();
          live.set(`i${next}`, v);
          await c.add([{ id: `i${next}`, vectors: { v } }]);
          next++;
        } else {
          const id = idList[Math.floor((random() + 0.5) * idList.length)];
          if (kind === 1 && live.has(id)) {
            const v = vector();
            live.set(id, v);
            await c.add([{ id, vectors: { v } }]);
          } else if (live.has(id)) {
            live.delete(id);
            if ((await c.delete(id)) !== 1) failed++;
          }
        }
      } catch {
        failed++;
      }
      written++;
      if (written % 1000 === 0) idList = ids();
    }
    const query = vector();
    try {
      const exact = q % 10 === 0;
      const hits = await c.search({ vector: query, k: 10, exact });
      if (exact) {
        checked++;
        const expected = brute(query);
        const same = hits.length === expected.length && hits.every((h, i) => h.id === expected[i][1] || Math.abs(h.score - expected[i][0]) < 1e-5);
        if (!same) mismatches++;
      } else if (hits.length !== 10) {
        failed++;
      }
    } catch {
      failed++;
    }
  }
  const seconds = (performance.now() - t) / 1000;
  const count = await c.count();
  const memoryAfter = (await simil.memory()).search;
  simil.terminate();
  return {
    items, queries, writes: written, failed, mismatches, checked, live: live.size, count,
    memory_before_bytes: memoryBefore, memory_after_bytes: memoryAfter, seconds,
  };
}, { items: ITEMS, queries: QUERIES, writes: WRITES, dim: DIM });
await env.close();
console.log(load, `total ${(Date.now() - t0) / 1000} s`);
if (load.count !== load.live) load.failed++; // the collection's count must match the mirror

const file = `${ROOT}/bench/results/hardening.json`;
const results = JSON.parse(await readFile(file, 'utf8'));
results.load = {
  items: load.items, queries: load.queries, writes: load.writes, failed: load.failed, mismatches: load.mismatches,
  memory_before_bytes: load.memory_before_bytes, memory_after_bytes: load.memory_after_bytes,
};
await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
const mb = (b) => (b / 1048576).toFixed(1);
replaceSection(`${ROOT}/BENCHMARKS.md`, 'Load', `
Written by \`node bench/load.mjs\` (${machine}, ${browser}, through the package API in a worker).
${load.items.toLocaleString('en')} items (${DIM}-d) in one collection, then ${load.queries.toLocaleString('en')} queries interleaved
with ${load.writes.toLocaleString('en')} writes (adds, upserts, deletes in turn), one call at a time; every 10th query
exact and compared with a brute-force top-10 over the live items.

| failed calls | mismatches (of ${load.checked} checked) | live items = count | search-module memory before → after writes | time |
| --- | --- | --- | --- | --- |
| ${load.failed} | ${load.mismatches} | ${load.live === load.count} (${load.count.toLocaleString('en')}) | ${mb(load.memory_before_bytes)} → ${mb(load.memory_after_bytes)} MB | ${load.seconds.toFixed(1)} s |
`);
