#!/usr/bin/env node
// Image-embedding retrieval quality: emoji across vendors (gallery Google, queries Twitter,
// every emoji both draw), raw pixels vs the image embedder with f32 and int8 weights, run
// natively by examples/emoji_quality.rs. Writes `quality` of bench/results/embed.json (keeping
// its `runs` and `parity`) and the "Image embedding quality" table of BENCHMARKS.md.
//
//   node bench/embed-quality.mjs [--from FILE]   (after the README's test command; --from reads
//                                                a saved `emoji_quality` output instead of running it)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cargoJson, machine, replaceSection } from './report.mjs';

const ROOT = new URL('..', import.meta.url);
const path = (p) => new URL(p, ROOT).pathname;

const from = process.argv.indexOf('--from');
if (from < 0) console.error('cargo run --example emoji_quality (embeds every emoji of both vendors twice: minutes)');
const { images, quality } = from > 0
  ? JSON.parse(readFileSync(process.argv[from + 1], 'utf8'))
  : cargoJson(['run', '--quiet', '--profile', 'bench', '--example', 'emoji_quality']);

const out = path('bench/results/embed.json');
const previous = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : {};
mkdirSync(path('bench/results'), { recursive: true });
writeFileSync(out, JSON.stringify({
  machine: previous.machine ?? machine, browser: previous.browser ?? null,
  runs: previous.runs ?? [], quality, parity: previous.parity ?? [],
}, null, 2) + '\n');

const f = (x) => x.toFixed(3);
const find = (model, weights) => quality.find((q) => q.model === model && q.weights === weights);
const [f32, int8] = [find('mobilenet_v2', 'f32'), find('mobilenet_v2', 'int8')];
const lines = [
  `Command: \`node bench/embed-quality.mjs\` (native, burn flex). Gallery: the ${images} emoji that both Google and Twitter draw, Google's 64-px PNGs; queries: Twitter's drawing of the same emoji; the label is the emoji, so each query has one relevant image (mAP@R = recall@1 here). Exact cosine search.`,
  '',
  '| embedding | weights | recall@1 | recall@10 | mAP@R |',
  '|---|---|---|---|---|',
  ...quality.map((q) => `| ${q.model} | ${q.weights} | ${f(q.recall_at_1)} | ${f(q.recall_at_10)} | ${f(q.map_at_r)} |`),
  '',
  `int8 − f32 recall@10: ${(int8.recall_at_10 - f32.recall_at_10).toFixed(4)}`,
  '',
  'The default embedding (what `embedImages` returns) is the "default whitening" row: its whitening was learnt at build time (examples/fit_whitening.rs) from 1,875 unlabelled skin-tone variant images, none of them in this gallery or query set. The "fitted on the gallery" rows are what `fitImageWhitening` over a collection gives; the "other half" row is the control that fitting on other images is as good.',
];
replaceSection(path('BENCHMARKS.md'), 'Image embedding quality', lines.join('\n'));
console.error(`wrote ${out} and BENCHMARKS.md`);
