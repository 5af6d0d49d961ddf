#!/usr/bin/env node
// Image-embedding speed and parity benchmark, in one headless Chromium run plus a native run:
//   * simil on WebGPU (SwiftShader here) and on the CPU (burn flex in wasm), f32 and int8;
//   * the same network in TensorFlow.js (the reference runtime) on its wasm and WebGL backends;
//   * natively, simil on burn's CPU backend (examples/embed_speed.rs);
// images/s at batch 1 and 32 from encoded PNGs to unit vectors, cold start (load + first
// image), and parity (min cosine to the tfjs vectors of tests/fixtures/mobilenet_parity.json).
// Writes `runs` and `parity` of bench/results/embed.json (keeping its `quality`) and the
// "Image embedding speed" table of BENCHMARKS.md.
//
//   node bench/embed.mjs            (after scripts/test.sh or `source scripts/setup.sh && build_web`)
//   node bench/embed.mjs --browser-only   (the Chromium rows only; the native rows kept)
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { launch } from '../tests/browser/harness.mjs';
import { loadTfjsModel } from '../scripts/convert-mobilenet.mjs';
import { cargoJson, machine, replaceSection } from './report.mjs';

const ROOT = new URL('..', import.meta.url);
const path = (p) => new URL(p, ROOT).pathname;
const fixture = JSON.parse(readFileSync(path('tests/fixtures/mobilenet_parity.json'), 'utf8'));
const taps = fixture.taps ?? [fixture.tap];
const files = fixture.images.map((img) => `/${fixture.image_dir}/${img.file}`);

// The reference model as a plain tfjs layers model (model.json + one weights file).
const { modelJson, weightData, specs } = loadTfjsModel();
mkdirSync(path('bench/work/tfjs-mobilenet'), { recursive: true });
writeFileSync(path('bench/work/tfjs-mobilenet/weights.bin'), weightData);
writeFileSync(path('bench/work/tfjs-mobilenet/model.json'), JSON.stringify({
  ...modelJson, weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
}));

// `--browser-only` keeps the native rows of the last run (bench/results/embed.json) as they are.
const out = path('bench/results/embed.json');
const previous = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : {};
const browserOnly = process.argv.includes('--browser-only');
if (!browserOnly) console.error('native: cargo run --profile bench --example embed_speed');
const native = browserOnly
  ? { runs: (previous.runs ?? []).filter((r) => r.env !== 'chromium'), parity: (previous.parity ?? []).filter((p) => !p.backend.startsWith('chromium')) }
  : cargoJson(['run', '--quiet', '--profile', 'bench', '--example', 'embed_speed']);

// SwiftShader runs WebGPU on the CPU and is slow: fewer images there.
const cpuBatches = [[1, 16], [32, 64]];
const gpuBatches = [[1, 4], [32, 32]];
const POOL_IMAGES = 500;
const POOL_BULK = { batch: 8, count: POOL_IMAGES };
const TFJS_BULK = { batch: 32, count: POOL_IMAGES };
const engines = [
  ...['f32', 'int8'].flatMap((weights) => [
    { engine: 'simil', backend: 'webgpu', weights, batches: gpuBatches, name: 'simil-wgpu' },
    { engine: 'simil', backend: 'cpu', weights, workers: 1, batches: cpuBatches, name: 'simil-cpu (wasm)' },
  ]),
  // The pool (issue 18): POOL_IMAGES images through one embedImages call, one worker and the
  // default pool (min(cores, 4) workers), beside tfjs-wasm single-threaded and at its best
  // configuration (SIMD and threads, in a cross-origin isolated page) on the same images.
  { engine: 'simil', backend: 'cpu', weights: 'int8', workers: 1, batches: [], bulk: POOL_BULK, name: 'simil-cpu pool', pool: true },
  { engine: 'simil', backend: 'cpu', weights: 'int8', batches: [], bulk: POOL_BULK, name: 'simil-cpu pool', pool: true },
  { engine: 'tfjs', backend: 'wasm', weights: 'f32', batches: cpuBatches, bulk: TFJS_BULK, name: 'tfjs-wasm' },
  { engine: 'tfjs', backend: 'wasm', weights: 'f32', batches: cpuBatches, bulk: TFJS_BULK, threads: true, isolated: true, name: 'tfjs-wasm threads' },
  { engine: 'tfjs', backend: 'webgl', weights: 'f32', batches: gpuBatches, name: 'tfjs-webgl' },
];

// `--only <text>`: only the engines whose name holds it; the others' rows of the last run are kept.
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const chosen = engines.filter((e) => only === null || e.name.includes(only));

const env = await launch();
// tfjs-wasm's threads need SharedArrayBuffer, so a cross-origin isolated page: a second server
// sends COOP/COEP.
const isolatedEnv = await launch({ headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } });
const browser = `Chromium ${env.browser.version()}`;
const runs = [...native.runs];
const parity = [...native.parity];
// With `--only`, the other engines' Chromium rows of the last run stay as they were.
if (only !== null) {
  const kept = (name) => !chosen.some((e) => name.startsWith(e.name));
  runs.push(...(previous.runs ?? []).filter((r) => r.env === 'chromium' && kept(r.engine)));
  parity.push(...(previous.parity ?? []).filter((p) => p.backend.startsWith('chromium')));
}
try {
  for (const spec of chosen) {
    const { browser: chromium, url } = spec.isolated ? isolatedEnv : env;
    const page = await chromium.newPage();
    await page.goto(`${url}/bench/embed.html`);
    await page.waitForFunction(() => window.benchReady === true);
    console.error(`${spec.name} ${spec.weights} ...`);
    let result;
    try {
      result = await page.evaluate((s) => window.runEngine(s), {
        ...spec, files, taps, size: 224, modelUrl: '/bench/work/tfjs-mobilenet/model.json',
      });
    } catch (e) {
      console.error(`  failed: ${e.message.split('\n')[0]}`);
      await page.close();
      continue;
    }
    await page.close();
    // The isolated page must be isolated; the threads tfjs reports are recorded as they are
    // (tfjs-backend-wasm 4.x reports 1 whatever setThreadsCount asks: tensorflow/tfjs#8513).
    if (spec.isolated && !result.isolated) throw new Error('the page for tfjs-wasm threads is not cross-origin isolated');
    for (const [batch, perS] of Object.entries(result.speed)) {
      const bulk = spec.bulk && Number(batch) === spec.bulk.batch;
      runs.push({
        env: 'chromium', engine: spec.pool ? spec.name : `${spec.name} [${result.backend}]`, model: 'mobilenet_v2',
        weights: spec.weights, batch: Number(batch), images_per_s: perS, cold_start_ms: result.coldStartMs,
        ...(spec.pool ? { workers: result.workers } : {}), ...(spec.threads ? { threads_asked: result.threadsAsked, threads: result.threads, isolated: result.isolated } : {}),
        ...(bulk ? { images: spec.bulk.count } : {}),
      });
      console.error(`  batch ${batch}: ${perS.toFixed(2)} images/s (cold start ${result.coldStartMs.toFixed(0)} ms)`);
    }
    if (result.vectors && !spec.pool) {
      let minCos = 1;
      result.vectors.forEach((v, i) => {
        const r = fixture.images[i].embedding;
        let dot = 0, na = 0, nb = 0;
        for (let j = 0; j < v.length; j++) { dot += v[j] * r[j]; na += v[j] * v[j]; nb += r[j] * r[j]; }
        minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
      });
      parity.push({ model: 'mobilenet_v2', weights: spec.weights, backend: `chromium-${result.backend}`, min_cos: minCos, n: result.vectors.length });
    }
  }
} finally {
  await env.close();
  await isolatedEnv.close();
}

mkdirSync(path('bench/results'), { recursive: true });
writeFileSync(out, JSON.stringify({ machine, browser, runs, quality: previous.quality ?? [], parity }, null, 2) + '\n');

const ratio = (a, b) => (a && b && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : 'n/a');
// Browser engines only: the native run is also named simil-cpu.
const rate = (engine, weights, batch) => runs.find((r) => r.env === 'chromium' && r.engine.startsWith(engine) && r.weights === weights && r.batch === batch)?.images_per_s;
const lines = [
  `Machine: ${machine}; ${browser} (headless; WebGPU and WebGL through SwiftShader, on the CPU). Command: \`node bench/embed.mjs\`. Images: the ${files.length} emoji PNGs of the parity fixture, decoded, preprocessed and embedded (MobileNetV2 to ${taps.join(' + ')}, GeM, L2).`,
  '',
  `Rows with "images": that many images through one call (embedImages for simil, batches of that size for tfjs); the pool rows name their workers, tfjs-wasm threads its threads (in a cross-origin isolated page, SIMD and threads detected; tfjs-backend-wasm 4.x reports 1 thread whatever setThreadsCount asks, tensorflow/tfjs#8513, and runs as fast as its single-threaded rows).`,
  '',
  '| env | engine | weights | batch | images | workers / threads | images/s | cold start (ms) |',
  '|---|---|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.env} | ${r.engine} | ${r.weights} | ${r.batch} | ${r.images ?? ''} | ${r.workers ?? (r.threads_asked ? `${r.threads_asked} asked, ${r.threads} reported` : '')} | ${r.images_per_s.toFixed(2)} | ${r.cold_start_ms.toFixed(0)} |`),
  '',
  ...[1, 32].map((b) => {
    const ours = rate('simil-cpu (wasm)', 'int8', b);
    const theirs = rate('tfjs-wasm [', 'f32', b);
    return `simil-cpu (wasm, int8, one worker) / tfjs-wasm single-threaded at batch ${b}: ${ratio(ours, theirs)}`;
  }),
  ...poolLines(),
  '',
  '| parity backend | weights | images | min cosine vs tfjs |',
  '|---|---|---|---|',
  ...parity.map((p) => `| ${p.backend} | ${p.weights} | ${p.n} | ${p.min_cos.toFixed(6)} |`),
];
/** The pool's ratios: default pool / one worker, and / tfjs-wasm at its best (threads). */
function poolLines() {
  const bulk = (engine, pick) => runs.filter((r) => r.env === 'chromium' && r.engine.startsWith(engine) && r.images && pick(r));
  const [one] = bulk('simil-cpu pool', (r) => r.workers === 1);
  const [pool] = bulk('simil-cpu pool', (r) => r.workers > 1);
  const best = Math.max(...runs.filter((r) => r.env === 'chromium' && r.engine.startsWith('tfjs-wasm threads')).map((r) => r.images_per_s));
  if (!one || !pool) return [];
  return [
    `simil-cpu pool of ${pool.workers} / one worker, ${POOL_IMAGES} images: ${ratio(pool.images_per_s, one.images_per_s)}`,
    `simil-cpu pool of ${pool.workers} / tfjs-wasm threads at its best batch: ${ratio(pool.images_per_s, best)}`,
  ];
}

replaceSection(path('BENCHMARKS.md'), 'Image embedding speed and parity', lines.join('\n'));
console.error(`wrote ${out} and BENCHMARKS.md`);
