// Fuzzing of the Rust decoders (issue 17): every target of crates/simil-fuzz on ≥ 10⁶ generated
// inputs (seeded, so a run can be repeated), zero panics and zero allocations over the cap
// expected. Not run in CI: CI replays the kept corpus (`cargo test -p simil-fuzz`).
//
//   node bench/fuzz.mjs [--inputs N] [--seed S] [target ...]
//
// Writes the `fuzz` key of bench/results/hardening.json (its other keys belong to other
// benchmarks and are kept) and the "Fuzzing" table of BENCHMARKS.md. The runner is built with
// the dev profile (opt-level 3 for simil's crates, 2 for dependencies, debug assertions and
// overflow checks on, panics unwind): the release profile aborts on a panic, which a fuzzer
// must catch and count.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { machine, replaceSection } from './report.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [value] = args.splice(i, 2).slice(1);
  return value;
};
const inputs = Number(option('--inputs', 1_000_000));
const seed = Number(option('--seed', 1));
const env = { ...process.env, CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR ?? `${homedir()}/.cache/simil-target` };

execFileSync('cargo', ['build', '-p', 'simil-fuzz'], { stdio: 'inherit', env });
const runner = `${env.CARGO_TARGET_DIR}/debug/simil-fuzz`;
const targets = args.length ? args : ['all'];
const fuzz = [];
for (const target of targets) {
  const out = execFileSync(runner, [target, '--inputs', String(inputs), '--seed', String(seed)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
    maxBuffer: 1 << 24,
  });
  for (const line of out.split('\n').filter(Boolean)) {
    const r = JSON.parse(line);
    console.log(`${r.target}: ${r.inputs} inputs, ${r.panics} panics, ${r.seconds} s`);
    fuzz.push({ target: r.target, inputs: r.inputs, panics: r.panics, seconds: r.seconds });
  }
}

const file = 'bench/results/hardening.json';
mkdirSync('bench/results', { recursive: true });
const results = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
results.fuzz = fuzz;
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

replaceSection('BENCHMARKS.md', 'Fuzzing', [
  `Written by \`node bench/fuzz.mjs\` (seed ${seed}, ${machine}, one target at a time on one core). Each`,
  'target feeds generated inputs to a real public decoder (crates/simil-fuzz): valid files mutated',
  "as AFL's havoc does, with section lengths, CRC-32s and safetensors header lengths rewritten after",
  'mutating so the inner checks are reached, and `arbitrary`-driven text and JSON. A panic, or any',
  'single allocation over 64 MiB, counts as a failure. CI replays the kept corpus',
  '(`crates/simil-fuzz/corpus/`, `cargo test -p simil-fuzz`), with every input that found a bug:',
  'so far two, both in simil-index\'s reader: a file whose mutable rows held an int8 value beyond',
  'the f16 range loaded, then sealed into a file the reader refused (d5e3f49); a file whose',
  'counters sat at the top of u64 loaded, and the next write overflowed them (de4cdb7).',
  '',
  '| target | inputs | panics | seconds |',
  '|---|---|---|---|',
  ...fuzz.map((r) => `| ${r.target} | ${r.inputs.toLocaleString('en-US')} | ${r.panics} | ${r.seconds} |`),
].join('\n'));
const failed = fuzz.filter((r) => r.panics > 0);
if (failed.length) {
  console.error(`panics in ${failed.map((r) => r.target).join(', ')}: inputs in crates/simil-fuzz/crashes/`);
  process.exit(1);
}
