// Fuzzing of the Rust decoders (issue 17): every target of crates/simil-fuzz on ≥ 10⁶ generated
// inputs (seeded, so a run can be repeated), zero panics and zero allocations over the cap
// expected. Not run in CI: CI replays the kept corpus (`cargo test -p simil-fuzz`).
//
//   node bench/fuzz.mjs [--inputs N] [--seed S] [target ...]
//
// Writes its targets' rows of bench/results/hardening.json's `fuzz` list (the other keys, and
// the worker protocol's row, are kept) and the "Fuzzing" table of BENCHMARKS.md. The runner is built with
// the dev profile (opt-level 3 for simil's crates, 2 for dependencies, debug assertions and
// overflow checks on, panics unwind): the release profile aborts on a panic, which a fuzzer
// must catch and count.
import { execFileSync } from 'node:child_process';
import { homedir } from 'node:os';
import { writeFuzzRows, writeFuzzSection } from './fuzz-report.mjs';

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

// This run's targets replace their rows; the worker protocol's (bench/fuzz-protocol.mjs) is kept.
writeFuzzSection(writeFuzzRows(fuzz), { seed });
const failed = fuzz.filter((r) => r.panics > 0);
if (failed.length) {
  console.error(`panics in ${failed.map((r) => r.target).join(', ')}: inputs in crates/simil-fuzz/crashes/`);
  process.exit(1);
}
