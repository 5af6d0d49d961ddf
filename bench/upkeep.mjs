#!/usr/bin/env node
// Index upkeep while a user searches: a collection grows by batches of 1,000 items through the
// package (`Collection.add`), and searches run back to back until upkeep has settled (one graph,
// an empty exact segment). Two rows, same run: graphs grown in simil's builder worker (the
// default), and grown in simil's own worker between calls (what the package falls back to where
// the builder cannot start: here a copy of the package without the builder's script). Reports how long upkeep took and the
// latency of the searches answered meanwhile. Writes bench/results/upkeep.json and the "Index
// upkeep while searching" section of BENCHMARKS.md.
//
//   node bench/upkeep.mjs [--n 20000] [--dim 384]
//   (after scripts/test.sh or `source scripts/setup.sh && build_web`)
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { launch } from '../tests/browser/harness.mjs';
import { machine, numberArg, replaceSection } from './report.mjs';

const path = (p) => new URL(`../${p}`, import.meta.url).pathname;
const n = numberArg('n', 20000);
const dim = numberArg('dim', 384);

// The package without its builder script (bench/work/pkg-nobuilder: pkg's modules, its wasm
// linked), as a page whose builder cannot start sees it.
const nobuilder = path('bench/work/pkg-nobuilder');
rmSync(nobuilder, { recursive: true, force: true });
mkdirSync(nobuilder, { recursive: true });
for (const f of readdirSync(path('pkg')).filter((f) => f.endsWith('.js') && f !== 'build-worker.js')) {
  cpSync(path(`pkg/${f}`), `${nobuilder}/${f}`);
}
symlinkSync(path('pkg/wasm'), `${nobuilder}/wasm`);
if (existsSync(`${nobuilder}/build-worker.js`)) throw new Error('the builder script is still there');

const env = await launch();
const browser = `Chromium ${env.browser.version()}`;
const runs = [];
try {
  for (const mode of ['builder worker', "simil's worker"]) {
    const page = await env.browser.newPage();
    page.setDefaultTimeout(0);
    const warnings = [];
    page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    await page.goto(`${env.url}/tests/browser/blank.html`);
    const pkg = mode === 'builder worker' ? '/pkg' : '/bench/work/pkg-nobuilder';
    const r = await page.evaluate(async ({ n, dim, pkg }) => {
      const { open } = await import(`${pkg}/index.js`);
      const { mulberry32 } = await import('/tests/browser/seeded.js');
      const uniform = mulberry32(7);
      // Clustered unit vectors, as embeddings are.
      const centres = Array.from({ length: 50 }, () => Float32Array.from({ length: dim }, () => uniform() - 0.5));
      const vector = () => {
        const c = centres[Math.floor(uniform() * centres.length)];
        const v = c.map((x) => x + 0.3 * (uniform() - 0.5));
        const norm = Math.hypot(...v);
        return v.map((x) => x / norm);
      };
      const simil = await open({ storage: 'memory' });
      try {
        const c = await simil.createCollection('upkeep', { fields: [{ name: 'v', dim, metric: 'cosine' }] });
        const latencies = [];
        const search = async () => {
          const t = performance.now();
          await c.search({ vector: vector(), k: 10 });
          latencies.push(performance.now() - t);
        };
        const t0 = performance.now();
        for (let start = 0; start < n; start += 1000) {
          await c.add(Array.from({ length: Math.min(1000, n - start) }, (_, i) => ({ id: String(start + i), vectors: { v: vector() } })));
          await search();
        }
        const settled = (s) => s.segments.every((g) => g.kind === 'sealed' || g.rows === 0) && s.segments.length <= 2;
        let stats = await c.stats();
        while (!settled(stats)) {
          await search();
          stats = await c.stats();
        }
        const upkeep_s = (performance.now() - t0) / 1000;
        latencies.sort((a, b) => a - b);
        const pct = (p) => latencies[Math.round((latencies.length - 1) * p)];
        return { upkeep_s, searches: latencies.length, p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: latencies.at(-1), segments: stats.segments.length };
      } finally {
        simil.terminate();
      }
    }, { n, dim, pkg });
    await page.close();
    const row = { mode, n, dim, batch: 1000, ...r, builder_warnings: warnings.filter((w) => /builder/.test(w)).length };
    runs.push(row);
    console.error(`${mode}: upkeep ${r.upkeep_s.toFixed(1)} s, ${r.searches} searches meanwhile, p50 ${r.p50_ms.toFixed(1)} ms, p99 ${r.p99_ms.toFixed(1)} ms, max ${r.max_ms.toFixed(1)} ms`);
  }
} finally {
  await env.close();
}

mkdirSync(path('bench/results'), { recursive: true });
writeFileSync(path('bench/results/upkeep.json'), JSON.stringify({ machine, browser, runs }, null, 2) + '\n');
const f = (x, d) => x.toFixed(d);
const [elsewhere, here] = runs;
replaceSection(path('BENCHMARKS.md'), 'Index upkeep while searching', [
  `\`node bench/upkeep.mjs --n ${n} --dim ${dim}\` (${machine}, ${browser}; \`bench/results/upkeep.json\`).`,
  `${n} clustered unit vectors added through \`Collection.add\` in batches of 1,000, searches (k 10, one message round trip each) back to back until upkeep has settled (one graph, an empty exact segment). Graphs grow in the builder worker by default; where it cannot start (here: a copy of the package without its script) they grow in simil's worker between calls, in steps of about 8 ms.`,
  '',
  '| graphs grow in | upkeep, s | searches meanwhile | p50 ms | p99 ms | max ms |',
  '|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.mode} | ${f(r.upkeep_s, 1)} | ${r.searches} | ${f(r.p50_ms, 2)} | ${f(r.p99_ms, 2)} | ${f(r.max_ms, 1)} |`),
  '',
  `Builder worker vs simil's worker: upkeep ${f(here.upkeep_s / elsewhere.upkeep_s, 2)}× faster, p99 search latency ${f(here.p99_ms / elsewhere.p99_ms, 2)}× lower.`,
].join('\n'));
