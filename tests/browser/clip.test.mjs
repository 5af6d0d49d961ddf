// The CLIP loader in the browser, through the package's API: the tiny CLIPModel of
// tests/fixtures/clip (scripts/make_tiny_clip.py; transformers' reference outputs) loaded with
// loadClip from URLs and from the files themselves; image and text embeddings match
// transformers (cosine >= 0.9999) on the CPU backend (flex in wasm) and on WebGPU
// (SwiftShader); bad files reject with a SimilError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { cosine, inPage, ROOT, sharedEnv } from './harness.mjs';

const BAR = 0.9999;
const DIR = '/tests/fixtures/clip/';

let texts;
let images;
const env = sharedEnv(async () => {
  const read = async (name) => JSON.parse(await readFile(new URL(`tests/fixtures/clip/${name}`, ROOT), 'utf8'));
  texts = await read('texts.json');
  images = await read('images.json');
});


/** Loads the tiny CLIP (weights by URL, config as bytes, vocab as a File, merges by URL) and embeds the fixture's texts and images. */
async function embedInPage(simil, { dir, texts, rgb, size }) {
  const config = new Uint8Array(await (await fetch(`${dir}config.json`)).arrayBuffer());
  const vocab = new File([await (await fetch(`${dir}vocab.json`)).blob()], 'vocab.json');
  const info = await simil.loadClip({ weights: `${dir}model.safetensors`, config, vocab, merges: `${dir}merges.txt` });
  const pixels = rgb.map((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const rgba = new Uint8ClampedArray(size * size * 4);
    for (let p = 0; p < size * size; p++) {
      rgba.set(bytes.subarray(3 * p, 3 * p + 3), 4 * p);
      rgba[4 * p + 3] = 255;
    }
    return new ImageData(rgba, size, size);
  });
  const textVectors = await simil.embedTexts(texts, { batchSize: 16 });
  const imageVectors = await simil.embedImages(pixels, { batchSize: 8 });
  const loaded = await simil.models();
  return {
    backend: simil.backend,
    info,
    models: [loaded.image?.model, loaded.text?.model],
    texts: textVectors.map((v) => Array.from(v)),
    images: imageVectors.map((v) => Array.from(v)),
  };
}

for (const backend of ['cpu', 'webgpu']) {
  test(`CLIP on ${backend}: image and text embeddings match transformers, cosine >= ${BAR}`, async () => {
    const t0 = Date.now();
    const { result, errors } = await inPage(env, backend, embedInPage,
      { dir: DIR, texts: texts.texts, rgb: images.rgb_base64, size: images.size });
    assert.deepEqual(errors, []);
    assert.equal(result.backend, backend);
    assert.deepEqual(result.info, { dim: 24, weights: 'f32', model: 'clip', inputSize: 32, whitened: false, maxTokens: 77, bytes: result.info.bytes });
    assert.deepEqual(result.models, ['clip', 'clip']);
    assert.equal(result.texts.length, texts.texts.length);
    assert.equal(result.images.length, images.embeds.length);
    const textMin = Math.min(...result.texts.map((v, i) => cosine(v, texts.embeds[i])));
    const imageMin = Math.min(...result.images.map((v, i) => cosine(v, images.embeds[i])));
    console.log(`CLIP ${backend}: text min cos ${textMin.toFixed(7)} (n ${result.texts.length}), image min cos ${imageMin.toFixed(7)} (n ${result.images.length}), ${Date.now() - t0} ms`);
    assert.ok(textMin >= BAR, `text min cosine ${textMin} on ${backend}`);
    assert.ok(imageMin >= BAR, `image min cosine ${imageMin} on ${backend}`);
  });
}

test('loadClip: missing or bad files reject with a SimilError; a failed load keeps the model', async () => {
  const { result, errors } = await inPage(env, 'cpu', async (simil, dir, tools) => {
    const fail = tools.settle;
    const files = { weights: `${dir}model.safetensors`, config: `${dir}config.json`, vocab: `${dir}vocab.json`, merges: `${dir}merges.txt` };
    const noMerges = await fail(simil.loadClip({ ...files, merges: undefined }));
    const notFound = await fail(simil.loadClip({ ...files, weights: '/no/such/model.safetensors' }));
    await simil.loadClip(files);
    const notClip = await fail(simil.loadClip({ ...files, weights: new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]) }));
    const badConfig = await fail(simil.loadClip({ ...files, config: new TextEncoder().encode('{"text_config": {"hidden_act": "relu"}}') }));
    const [v] = await simil.embedTexts(['a photo of a cat']);
    return { noMerges, notFound, notClip, badConfig, dim: v.length };
  }, DIR);
  assert.deepEqual(errors, []);
  assert.equal(result.noMerges.code, 'input');
  assert.match(result.noMerges.message, /merges/);
  assert.equal(result.notFound.code, 'model');
  assert.match(result.notFound.message, /no\/such/);
  assert.equal(result.notClip.name, 'SimilError');
  assert.equal(result.notClip.code, 'model');
  assert.match(result.notClip.message, /text_model\.embeddings\.token_embedding\.weight/);
  assert.equal(result.badConfig.code, 'model');
  assert.match(result.badConfig.message, /relu/);
  assert.equal(result.dim, 24);
});
