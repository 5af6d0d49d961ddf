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

console.error('native: cargo run --profile bench --example embed_speed');
const native = cargoJson(['run', '--quiet', '--profile', 'bench', '--example', 'embed_speed']);

// SwiftShader runs WebGPU on the CPU and is slow: fewer images there.
const cpuBatches = [[1, 16], [32, 64]];
const gpuBatches = [[1, 4], [32, 32]];
const engines = [
  ...['f32', 'int8'].flatMap((weights) => [
    { engine: 'simil', backend: 'webgpu', weights, batches: gpuBatches, name: 'simil-wgpu' },
    { engine: 'simil', backend: 'cpu', weights, batches: cpuBatches, name: 'simil-cpu (wasm)' },
  ]),
  { engine: 'tfjs', backend: 'wasm', weights: 'f32', batches: cpuBatches, name: 'tfjs-wasm' },
  { engine: 'tfjs', backend: 'webgl', weights: 'f32', batches: gpuBatches, name: 'tfjs-webgl' },
];

const env = await launch();
const browser = `Chromium ${env.browser.version()}`;
const runs = [...native.runs];
const parity = [...native.parity];
try {
  for (const spec of engines) {
    const page = await env.browser.newPage();
    await page.goto(`${env.url}/bench/embed.html`);
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
    for (const [batch, perS] of Object.entries(result.speed)) {
      runs.push({
        env: 'chromium', engine: `${spec.name} [${result.backend}]`, model: 'mobilenet_v2',
        weights: spec.weights, batch: Number(batch), images_per_s: perS, cold_start_ms: result.coldStartMs,
      });
      console.error(`  batch ${batch}: ${perS.toFixed(2)} images/s (cold start ${result.coldStartMs.toFixed(0)} ms)`);
    }
    if (result.vectors) {
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
}

const out = path('bench/results/embed.json');
const previous = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : {};
mkdirSync(path('bench/results'), { recursive: true });
writeFileSync(out, JSON.stringify({ machine, browser, runs, quality: previous.quality ?? [], parity }, null, 2) + '\n');

// Browser engines only: the native run is also named simil-cpu.
const rate = (engine, weights, batch) => runs.find((r) => r.env === 'chromium' && r.engine.startsWith(engine) && r.weights === weights && r.batch === batch)?.images_per_s;
const lines = [
  `Machine: ${machine}; ${browser} (headless; WebGPU and WebGL through SwiftShader, on the CPU). Command: \`node bench/embed.mjs\`. Images: the ${files.length} emoji PNGs of the parity fixture, decoded, preprocessed and embedded (MobileNetV2 to ${taps.join(' + ')}, GeM, L2).`,
  '',
  '| env | engine | weights | batch | images/s | cold start (ms) |',
  '|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.env} | ${r.engine} | ${r.weights} | ${r.batch} | ${r.images_per_s.toFixed(2)} | ${r.cold_start_ms.toFixed(0)} |`),
  '',
  ...[1, 32].map((b) => {
    const ours = rate('simil-cpu', 'int8', b);
    const theirs = rate('tfjs-wasm', 'f32', b);
    return `simil-cpu (wasm, int8) / tfjs-wasm at batch ${b}: ${ours && theirs ? (ours / theirs).toFixed(2) + '×' : 'n/a'}`;
  }),
  '',
  '| parity backend | weights | images | min cosine vs tfjs |',
  '|---|---|---|---|',
  ...parity.map((p) => `| ${p.backend} | ${p.weights} | ${p.n} | ${p.min_cos.toFixed(6)} |`),
];
replaceSection(path('BENCHMARKS.md'), 'Image embedding speed and parity', lines.join('\n'));
console.error(`wrote ${out} and BENCHMARKS.md`);
