// What bench/fuzz.mjs (the Rust decoders) and bench/fuzz-protocol.mjs (the worker protocol)
// share: each writes its own rows of bench/results/hardening.json's `fuzz` list, keeping the
// other's, and the whole "Fuzzing" table of BENCHMARKS.md from that list.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { machine, replaceSection } from './report.mjs';

const FILE = 'bench/results/hardening.json';

/** The target the worker-protocol fuzzer reports as. */
export const PROTOCOL_TARGET = 'worker-protocol';

/**
 * Writes `rows` (`{ target, inputs, panics, seconds }`) into hardening.json's `fuzz` list,
 * replacing the rows of the same targets and keeping the others (the worker protocol's row
 * last); the file's other keys are kept. Returns the whole list.
 */
export function writeFuzzRows(rows) {
  mkdirSync('bench/results', { recursive: true });
  const results = existsSync(FILE) ? JSON.parse(readFileSync(FILE, 'utf8')) : {};
  const kept = (results.fuzz ?? []).filter((r) => !rows.some((row) => row.target === r.target));
  const all = [...kept, ...rows];
  results.fuzz = [...all.filter((r) => r.target !== PROTOCOL_TARGET), ...all.filter((r) => r.target === PROTOCOL_TARGET)];
  writeFileSync(FILE, `${JSON.stringify(results, null, 2)}\n`);
  return results.fuzz;
}

/** Writes the "Fuzzing" section of BENCHMARKS.md: both fuzzers' text and one table of `fuzz`. */
export function writeFuzzSection(fuzz, { seed = 1 } = {}) {
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
    `The \`${PROTOCOL_TARGET}\` row is written by \`node bench/fuzz-protocol.mjs\` (seed 1, headless Chromium,`,
    `${machine}): random messages posted straight to \`pkg/worker.js\`, not through \`index.js\`: method`,
    "names from `pkg/protocol.js`'s table and junk (`__proto__`, `constructor`, non-strings), arguments",
    'of random types (numbers, NaN, ±∞, strings with lone surrogates, null, arrays, objects, typed',
    'arrays, BigInts, Blobs, images whole, cut short or declaring 10⁵ × 10⁵ pixels, 10⁶-element values,',
    'sparse arrays of 2³² − 1, nesting 65 to 5,000 deep), and messages that are not calls. A failure',
    '(the `panics` column) is an answer that is not a result or a `SimilError` of a `SimilErrorCode`',
    'other than `internal`, a call left unanswered for 60 s, a worker that dies or posts `fatal`, or the',
    'fixed valid sequence (create, add, search, get, save, load, delete; run every 1,000 messages)',
    'answering otherwise than on a fresh engine. CI runs 2,000 messages and replays the kept cases',
    '(`tests/browser/protocol-fuzz.test.mjs`, `tests/browser/protocol-fuzz-corpus.json`). Against the',
    'worker of 30cb09f (before it checked its arguments), 100 of the first 500 messages failed:',
    'a collection name given as a number corrupted the wasm heap ("memory access out of bounds"), a',
    'sparse array as the method name hung the worker, `constructor` and `hasOwnProperty` were answered',
    'as calls, a message that is not an object killed the page\'s channel, and TypeErrors (`internal`)',
    'came from missing or mistyped arguments; each is a kept case now.',
    '',
    '| target | inputs | panics | seconds |',
    '|---|---|---|---|',
    ...fuzz.map((r) => `| ${r.target} | ${r.inputs.toLocaleString('en-US')} | ${r.panics} | ${r.seconds} |`),
  ].join('\n'));
}
