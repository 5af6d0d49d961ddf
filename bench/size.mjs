// The shipped wasm modules' sizes against their budgets (issue 19, "modules by need"): the
// search module every page loads (no model runtime) ≤ 400 KB gzipped, the model and trainer
// modules, fetched on first use, ≤ 3 MB each. Weights are not counted.
//
//   node bench/size.mjs           writes bench/results/size.json and its BENCHMARKS.md table
//   node bench/size.mjs --check   only checks the budgets (the test command runs this)
// Run after `build_web` (scripts/setup.sh), which puts the modules in pkg/wasm/.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { machine, replaceSection } from './report.mjs';

const MODULES = [
  { name: 'search', file: 'pkg/wasm/simil_search_bg.wasm', budget: 400_000 },
  { name: 'model', file: 'pkg/wasm/simil_model_bg.wasm', budget: 3_000_000 },
  { name: 'trainer', file: 'pkg/wasm/simil_train_bg.wasm', budget: 3_000_000 },
];

const modules = MODULES.map(({ name, file, budget }) => {
  const bytes = readFileSync(file);
  return { name, file, raw_bytes: bytes.length, gzip_bytes: gzipSync(bytes, { level: 9 }).length, budget_gzip_bytes: budget };
});
const over = modules.filter((m) => m.gzip_bytes > m.budget_gzip_bytes);
for (const m of modules) {
  console.log(`${m.name}: ${m.raw_bytes} bytes, ${m.gzip_bytes} gzipped (budget ${m.budget_gzip_bytes})`);
}
if (over.length) {
  for (const m of over) console.error(`${m.file} is ${m.gzip_bytes} bytes gzipped: over its ${m.budget_gzip_bytes}-byte budget`);
  process.exit(1);
}
if (!process.argv.includes('--check')) {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/size.json', `${JSON.stringify({ machine, modules }, null, 2)}\n`);
  const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
  replaceSection('BENCHMARKS.md', 'Wasm module sizes', [
    'Written by `node bench/size.mjs` (gzip -9; weights not counted). A page that only opens and',
    'searches collections loads the search module alone; the model module comes with the first model',
    'load or embed, the trainer with the first `trainHead`.',
    '',
    '| module | raw | gzipped | budget (gzipped) |',
    '|---|---|---|---|',
    ...modules.map((m) => `| ${m.name} | ${kb(m.raw_bytes)} | ${kb(m.gzip_bytes)} | ${kb(m.budget_gzip_bytes)} |`),
  ].join('\n'));
}
