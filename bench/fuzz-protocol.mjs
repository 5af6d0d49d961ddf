// Fuzzing of the worker protocol (issue 17): ≥ 10⁶ random messages posted straight to
// pkg/worker.js in headless Chromium (tests/browser/protocol-fuzz.js makes them and checks every
// answer; the fixed valid sequence runs every `--every` messages). Not run in CI: CI runs a
// short seeded run and replays the kept cases (tests/browser/protocol-fuzz.test.mjs).
//
//   node bench/fuzz-protocol.mjs [--messages 1000000] [--seed 1] [--batch 250] [--every 1000]
//
// Writes the `worker-protocol` row of bench/results/hardening.json's `fuzz` list (the Rust
// targets' rows and the other keys are kept) and the "Fuzzing" table of BENCHMARKS.md. Each
// failing message is printed with its description (`{ seed, index, post }`): add it to
// tests/browser/protocol-fuzz-corpus.json, with a `note`, once fixed, so that CI replays it.
import { launch } from '../tests/browser/harness.mjs';
import { PROTOCOL_TARGET, writeFuzzRows, writeFuzzSection } from './fuzz-report.mjs';
import { numberArg } from './report.mjs';

const arg = numberArg;
const MESSAGES = arg('messages', 1_000_000);
const SEED = arg('seed', 1);
const BATCH = arg('batch', 250);
const EVERY = arg('every', 1000);
const CHUNK = 20_000; // messages per round trip to the page, for progress

const env = await launch();
const page = await env.browser.newPage();
page.on('crash', () => console.error('the page crashed'));
await page.goto(`${env.url}/tests/browser/blank.html`);
await page.evaluate(async () => {
  const { fuzzer } = await import('/tests/browser/protocol-fuzz.js');
  window.fuzz = await fuzzer({ timeoutMs: 60_000 });
});
const t0 = Date.now();
let stats;
for (let from = 0; from < MESSAGES; from += CHUNK) {
  stats = await page.evaluate(({ seed, from, count, batch, every }) => window.fuzz.run({ seed, from, count, batch, every }),
    { seed: SEED, from, count: Math.min(CHUNK, MESSAGES - from), batch: BATCH, every: EVERY });
  const seconds = (Date.now() - t0) / 1000;
  console.log(`${(from + CHUNK).toLocaleString('en-US')} messages, ${seconds.toFixed(0)} s: ${stats.answered} calls answered (${stats.results} results, errors ${JSON.stringify(stats.errors)}), ${stats.unsendable} not cloneable, ${stats.probes} probes, ${stats.failed} failures`);
  if (stats.failed || (await page.evaluate(() => window.fuzz.died))) break;
}
const seconds = Math.round((Date.now() - t0) / 100) / 10;
await env.close();

const inputs = stats.sent + stats.unsendable;
const slowest = Object.entries(stats.ms).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([m, ms]) => `${m} ${(ms / 1000).toFixed(1)} s`);
console.log(`${PROTOCOL_TARGET}: ${inputs} messages (${stats.unsendable} not cloneable by the browser, never posted), ${stats.failed} failures, ${seconds} s; worker time by method: ${slowest.join(', ')}`);
for (const f of stats.failures) console.log(JSON.stringify(f));
writeFuzzSection(writeFuzzRows([{ target: PROTOCOL_TARGET, inputs, panics: stats.failed, seconds }]), { seed: SEED });
if (stats.failed) process.exit(1);
