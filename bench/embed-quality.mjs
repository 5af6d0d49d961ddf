#!/usr/bin/env node
// Image-embedding retrieval quality: emoji across vendors (gallery Google, queries Twitter,
// every emoji both draw), raw pixels vs the image embedders (MobileNetV2 and InceptionV3) with
// f32 and int8 weights, run natively by examples/emoji_quality.rs (f32 and int8 in two
// processes at once). Writes `quality` of bench/results/embed.json (keeping its `runs`,
// `parity`, and the rows of models not run this time) and the "Image embedding quality" table
// of BENCHMARKS.md.
//
//   node bench/embed-quality.mjs [--model mobilenet_v2,inception_v3]
//   node bench/embed-quality.mjs --results a.json b.json ...
//   node bench/embed-quality.mjs --sweep [--sweep-results sweep.json]
//
// (after `npm ci` and build_weights in scripts/setup.sh). `--results` merges outputs of
// `cargo run --example emoji_quality -- --model M --weights W` that were run separately.
// `--sweep` scores GeM over every InceptionV3 mixed block on the first 400 emoji (f32, one
// pass per image; the choice of `DEFAULT_TAP` in scripts/convert-inception.mjs) into the
// "InceptionV3 tap choice" table; `--sweep-results` reads that run's output instead.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cargoJson, machine, replaceSection } from './report.mjs';

const ROOT = new URL('..', import.meta.url);
const path = (p) => new URL(p, ROOT).pathname;
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);

/** Runs the example (already built) and parses its JSON, without blocking the other run. */
async function example(exampleArgs) {
  const env = { ...process.env, CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR ?? `${homedir()}/.cache/simil-target` };
  const run = promisify(execFile);
  const { stdout } = await run('cargo', ['run', '--quiet', '--example', 'emoji_quality', '--', ...exampleArgs], {
    encoding: 'utf8', env, maxBuffer: 1 << 26,
  });
  return JSON.parse(stdout);
}

if (args.includes('--sweep')) {
  let sweep;
  if (opt('--sweep-results')) {
    sweep = JSON.parse(readFileSync(opt('--sweep-results'), 'utf8'));
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'simil-sweep-'));
    execFileSync('node', [path('scripts/convert-inception.mjs'), dir, '--tap', 'mixed10'], { stdio: 'inherit' });
    sweep = await example(['--model', 'inception_v3', '--limit', '400', '--sweep', `${dir}/inception_v3.f32.safetensors`]);
    rmSync(dir, { recursive: true });
  }
  const rows = sweep.quality.map((q) => `| ${q.model.replace('inception_v3 GeM ', '')} | ${q.recall_at_1.toFixed(3)} | ${q.recall_at_10.toFixed(3)} |`);
  replaceSection(path('BENCHMARKS.md'), 'InceptionV3 tap choice', [
    `Command: \`node bench/embed-quality.mjs --sweep\` (native, burn flex, f32). GeM (p = 3) + L2 over each mixed block of InceptionV3 (nsfwjs), emoji across vendors on the first ${sweep.images} emoji both vendors draw (Google gallery, Twitter queries). The default tap is the best one here, \`mixed4\`; its f32 and int8 rows are in "Image embedding quality".`,
    '',
    '| tap | recall@1 | recall@10 |',
    '|---|---|---|',
    ...rows,
  ].join('\n'));
  console.error('wrote BENCHMARKS.md (InceptionV3 tap choice)');
  process.exit(0);
}

let outputs;
if (args.includes('--results')) {
  outputs = args.slice(args.indexOf('--results') + 1).map((f) => JSON.parse(readFileSync(f, 'utf8')));
} else {
  const models = opt('--model', 'mobilenet_v2,inception_v3').split(',');
  cargoJson(['build', '--quiet', '--example', 'emoji_quality']); // prints nothing: builds once
  outputs = [];
  for (const model of models) {
    console.error(`emoji_quality --model ${model} (f32 and int8 at once; embeds every emoji of both vendors: minutes)`);
    outputs.push(...await Promise.all(['f32', 'int8'].map((w) => example(['--model', model, '--weights', w]))));
  }
}

const key = (q) => `${q.model}|${q.weights}|${q.task}`;
const fresh = new Map(outputs.flatMap((o) => o.quality).map((q) => [key(q), q]));
const out = path('bench/results/embed.json');
const previous = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : {};
const kept = (previous.quality ?? []).filter((q) => !fresh.has(key(q)));
const quality = [...kept, ...fresh.values()];
mkdirSync(path('bench/results'), { recursive: true });
writeFileSync(out, JSON.stringify({
  machine: previous.machine ?? machine, browser: previous.browser ?? null,
  runs: previous.runs ?? [], quality, parity: previous.parity ?? [],
}, null, 2) + '\n');

const f = (x) => x.toFixed(3);
const find = (model, weights, task) => quality.find((q) => q.model === model && q.weights === weights && q.task === task);
const deltas = quality
  .filter((q) => q.weights === 'f32' && find(q.model, 'int8', q.task))
  .filter((q) => ['mobilenet_v2', 'inception_v3'].includes(q.model))
  .map((q) => `${q.model} int8 − f32 recall@10 (${q.task}): ${(find(q.model, 'int8', q.task).recall_at_10 - q.recall_at_10).toFixed(4)}`);
const identities = (q) => q.task.match(/(\d+) identities/)?.[1] ?? q.task;
const images = Math.max(...quality.map((q) => Number(identities(q)) || 0));
const lines = [
  `Command: \`node bench/embed-quality.mjs\` (native, burn flex). Gallery: the ${images} emoji that both Google and Twitter draw (or the first N of them, as the emoji column says), Google's 64-px PNGs; queries: Twitter's drawing of the same emoji; the label is the emoji, so each query has one relevant image (mAP@R = recall@1 here). Exact cosine search. MobileNetV2: GeM (p = 3) over \`block_10_expand_relu\` (384-d); InceptionV3: GeM (p = 3) over \`mixed4\` (768-d, the best mixed block on the first 400 emoji: \`emoji_quality --sweep\`).`,
  '',
  '| embedding | weights | emoji | recall@1 | recall@10 | mAP@R |',
  '|---|---|---|---|---|---|',
  ...quality.map((q) => `| ${q.model} | ${q.weights} | ${identities(q)} | ${f(q.recall_at_1)} | ${f(q.recall_at_10)} | ${f(q.map_at_r)} |`),
  '',
  ...deltas.join('\n\n').split('\n'),
  '',
  'The default embedding (what `embedImages` returns for MobileNetV2) is the "default whitening" row: its whitening was learnt at build time (examples/fit_whitening.rs) from 1,875 unlabelled skin-tone variant images, none of them in this gallery or query set. The "fitted on the gallery" rows are what `fitImageWhitening` over a collection gives; the "other half" rows are the control that fitting on other images is as good.',
];
replaceSection(path('BENCHMARKS.md'), 'Image embedding quality', lines.join('\n'));
console.error(`wrote ${out} and BENCHMARKS.md`);
