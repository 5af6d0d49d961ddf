// The worker protocol under random messages (issue 17, items 1 and 2), in CI: a seeded, bounded
// run of tests/browser/protocol-fuzz.js (2,000 messages posted straight to pkg/worker.js; set
// SIMIL_FUZZ_MESSAGES and SIMIL_FUZZ_SEED for more or others), and a replay of every kept case
// (tests/browser/protocol-fuzz-corpus.json: the messages that found a bug, each followed by the
// fixed valid sequence). The ≥ 10⁶-message run is bench/fuzz-protocol.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openPage, sharedEnv } from './harness.mjs';

const env = sharedEnv();
const MESSAGES = Number(process.env.SIMIL_FUZZ_MESSAGES ?? 2000);
const SEED = Number(process.env.SIMIL_FUZZ_SEED ?? 1);
const CORPUS = JSON.parse(readFileSync(new URL('./protocol-fuzz-corpus.json', import.meta.url), 'utf8'));

/** Runs `script` (a function of the page's fuzzer) in a fresh page and resolves to its stats. */
async function fuzz(script, arg) {
  const { page } = await openPage(env);
  try {
    return await page.evaluate(async ({ script, arg }) => {
      const { fuzzer } = await import('/tests/browser/protocol-fuzz.js');
      const fz = await fuzzer({ timeoutMs: 30000 });
      try {
        // eslint-disable-next-line no-new-func
        const stats = await new Function('fz', 'arg', `return (${script})(fz, arg);`)(fz, arg);
        return { ...stats, died: fz.died };
      } finally {
        fz.terminate();
      }
    }, { script: script.toString(), arg });
  } finally {
    await page.close();
  }
}

test("the fuzzer's error codes are index.d.ts's SimilErrorCode", async () => {
  const dts = readFileSync(new URL('../../pkg/index.d.ts', import.meta.url), 'utf8');
  const union = dts.match(/export type SimilErrorCode =([^;]*);/)[1].match(/'(\w+)'/g).map((c) => c.slice(1, -1));
  const source = readFileSync(new URL('./protocol-fuzz.js', import.meta.url), 'utf8');
  const codes = JSON.parse(source.match(/export const CODES = (\[[^\]]*\])/)[1].replaceAll("'", '"'));
  assert.deepEqual([...codes].sort(), [...union].sort());
});

test(`${MESSAGES} random messages (seed ${SEED}): every call answered by a result or a typed SimilError, the worker alive, the valid sequence unchanged`, async () => {
  const stats = await fuzz((fz, { seed, count }) => fz.run({ seed, count, batch: 250, every: 500 }), { seed: SEED, count: MESSAGES });
  assert.deepEqual(stats.failures, [], JSON.stringify(stats.failures, null, 1).slice(0, 4000));
  assert.equal(stats.died, null);
  assert.ok(stats.probes >= Math.floor(MESSAGES / 500), `${stats.probes} probes`);
  // The run reaches past the edge: calls succeed, and the wasm modules' own checks answer too.
  assert.ok(stats.results > MESSAGES / 10, `${stats.results} results`);
  for (const code of ['input', 'index', 'collection']) assert.ok(stats.errors[code] > 0, `some ${code} errors: ${JSON.stringify(stats.errors)}`);
  assert.equal(stats.errors.internal, undefined);
});

test(`the ${CORPUS.length} kept cases replay: each answered as it must be, the valid sequence unchanged after each`, async () => {
  const stats = await fuzz((fz, corpus) => fz.replay(corpus), CORPUS);
  assert.deepEqual(stats.failures, [], JSON.stringify(stats.failures, null, 1).slice(0, 4000));
  assert.equal(stats.died, null);
  assert.equal(stats.probes, CORPUS.length);
  assert.equal(stats.answered, CORPUS.filter((c) => c.post?.type === 'call').length, 'every kept call is answered');
});
