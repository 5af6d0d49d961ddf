// The text embedder (all-MiniLM-L6-v2) in the browser, through the package's API: parity with
// sentence-transformers (tests/fixtures/minilm_sentences.json + minilm_vectors.f16, written by
// scripts/reference-text.py) on the CPU (flex in wasm, f32 and int8 weights) and on WebGPU
// (SwiftShader, int8 only: the shipped default, and CI time matters); progress and cancel of a batched run; clear errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { cosine, inPage, ROOT, sharedEnv } from './harness.mjs';

const BARS = { f32: 0.999, int8: 0.99 };

let sentences;
let reference;
const env = sharedEnv(async () => {
  ({ sentences } = JSON.parse(await readFile(new URL('tests/fixtures/minilm_sentences.json', ROOT), 'utf8')));
  const raw = await readFile(new URL('tests/fixtures/minilm_vectors.f16', ROOT));
  const halves = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
  reference = Array.from({ length: sentences.length }, (_, i) =>
    Array.from(halves.subarray(i * 384, (i + 1) * 384), f16ToF32));
});

function f16ToF32(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}


// SwiftShader runs WebGPU on the CPU, slowly (all 121 sentences took over 9 minutes there):
// WebGPU checks the first 12 sentences, the CPU backend all of them (>= 100).
const SUBSET = { webgpu: 12, cpu: Infinity };
const WEIGHTS = { webgpu: ['int8'], cpu: ['f32', 'int8'] };

for (const backend of ['webgpu', 'cpu']) {
  for (const weights of WEIGHTS[backend]) {
    test(`text embeddings on ${backend} (${weights}) match sentence-transformers: cosine >= ${BARS[weights]}`, async () => {
      const texts = sentences.slice(0, SUBSET[backend]);
      const { result, errors } = await inPage(env, backend, async (simil, { weights, sentences }) => {
        const info = await simil.loadTextModel({ weights });
        const progress = [];
        const vectors = await simil.embedTexts(sentences, { batchSize: 32, onProgress: (p) => progress.push(p) });
        return { backend: simil.backend, info, progress, vectors: vectors.map((v) => Array.from(v)) };
      }, { weights, sentences: texts });
      assert.deepEqual(errors, []);
      assert.equal(result.backend, backend);
      assert.equal(result.info.weights, weights);
      assert.equal(result.info.dim, 384);
      assert.equal(result.info.maxTokens, 256);
      const n = texts.length;
      if (backend === 'cpu') assert.ok(n >= 100);
      assert.equal(result.vectors.length, n);
      assert.deepEqual(result.progress.at(-1), { done: n, total: n });
      assert.equal(result.progress.length, Math.ceil(n / 32));
      const minCos = Math.min(...result.vectors.map((v, i) => cosine(v, reference[i])));
      assert.ok(minCos >= BARS[weights], `min cosine ${minCos} < ${BARS[weights]} on ${backend} ${weights}`);
    });
  }
}

test('a cancelled text run stops between batches; bad input rejects with a SimilError', async () => {
  const { result, errors } = await inPage(env, 'cpu', async (simil, sentences, tools) => {
    const fail = tools.settle;
    const noModel = await fail(simil.embedTexts(['a']));
    const badUrl = await fail(simil.loadTextModel({ url: '/no/such/minilm.safetensors' }));
    const badWeights = await fail(simil.loadTextModel({ weights: 'f16' }));
    await simil.loadTextModel();
    const notStrings = await fail(simil.embedTexts(['a', 3]));
    const controller = new AbortController();
    const progress = [];
    const aborted = await fail(simil.embedTexts(sentences, {
      batchSize: 4,
      signal: controller.signal,
      onProgress: (p) => {
        progress.push(p);
        controller.abort();
      },
    }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [a, b] = await simil.embedTexts(['a red apple', 'a red fruit']);
    const [c] = await simil.embedTexts(['a red fruit']);
    return {
      noModel, badUrl, badWeights, notStrings, aborted, progress: progress.length,
      same: b.every((x, i) => Math.abs(x - c[i]) < 1e-5), dim: a.length,
    };
  }, sentences);
  assert.deepEqual(errors, []);
  assert.equal(result.noModel.code, 'state', 'embedding before a model loads is a call out of order');
  assert.match(result.noModel.message, /loadTextModel/);
  assert.equal(result.badUrl.code, 'model');
  assert.match(result.badUrl.message, /no\/such/);
  assert.equal(result.badWeights.code, 'input');
  assert.equal(result.notStrings.code, 'input');
  assert.equal(result.aborted.name, 'AbortError');
  assert.equal(result.progress, 1);
  assert.equal(result.dim, 384);
  assert.ok(result.same, 'a text embeds to the same vector alone and within a batch');
});
