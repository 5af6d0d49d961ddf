// The image embedder in the browser, through the package's API: parity with the reference
// runtime (@tensorflow/tfjs vectors in tests/fixtures/mobilenet_parity.json, and for a few
// images tests/fixtures/inception_parity.json) on WebGPU
// (SwiftShader) and on the CPU (flex in wasm), f32 and int8 weights; progress and cancel of a
// batched run; clear errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { inPage, ROOT, sharedEnv } from './harness.mjs';

const BARS = { f32: 0.999, int8: 0.99 };

let fixture;
let inception;
/** InceptionV3 is ~6 GFLOPs an image: the browser checks this many of its fixture's images. */
const INCEPTION_IMAGES = 5;
const env = sharedEnv(async () => {
  fixture = JSON.parse(await readFile(new URL('tests/fixtures/mobilenet_parity.json', ROOT), 'utf8'));
  inception = JSON.parse(await readFile(new URL('tests/fixtures/inception_parity.json', ROOT), 'utf8'));
  inception.images = inception.images.slice(0, INCEPTION_IMAGES);
});

/** Runs `body(simil, arg, { blobs })` in a fresh page on `backend`, over `images`' files. */
function inImagePage(backend, body, arg, images = fixture) {
  const files = images.images.map((img) => `/${images.image_dir}/${img.file}`);
  return inPage(env, backend, body, arg, { files });
}

for (const backend of ['webgpu', 'cpu']) {
  for (const weights of ['f32', 'int8']) {
    test(`image embeddings on ${backend} (${weights}) match tfjs: cosine >= ${BARS[weights]}`, async () => {
      const { result, errors } = await inImagePage(backend, async (simil, weights, { blobs }) => {
        // Parity is a property of the network: compare the vectors before whitening.
        const info = await simil.loadImageModel({ weights, whitening: false });
        const progress = [];
        const vectors = await simil.embedImages(blobs, { batchSize: 10, onProgress: (p) => progress.push(p) });
        return { backend: simil.backend, info, progress, vectors: vectors.map((v) => Array.from(v)) };
      }, weights);
      assert.deepEqual(errors, []);
      assert.equal(result.backend, backend);
      assert.equal(result.info.weights, weights);
      assert.equal(result.info.whitened, false);
      assert.equal(result.vectors.length, fixture.images.length);
      assert.ok(fixture.images.length >= 50, 'parity needs at least 50 images');
      const n = fixture.images.length;
      assert.deepEqual(result.progress.at(-1), { done: n, total: n });
      assert.equal(result.progress.length, Math.ceil(n / 10));
      const minCos = minCosine(result.vectors, fixture.images);
      assert.ok(minCos >= BARS[weights], `min cosine ${minCos} < ${BARS[weights]} on ${backend} ${weights}`);
    });
  }
}

/** The smallest cosine between `vectors` and the fixture's embeddings. */
function minCosine(vectors, images) {
  let minCos = 1;
  images.forEach((img, i) => {
    const v = vectors[i];
    assert.equal(v.length, img.embedding.length);
    let dot = 0, na = 0, nb = 0;
    for (let j = 0; j < v.length; j++) {
      dot += v[j] * img.embedding[j];
      na += v[j] * v[j];
      nb += img.embedding[j] * img.embedding[j];
    }
    minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
  });
  return minCos;
}

for (const backend of ['webgpu', 'cpu']) {
  test(`InceptionV3 embeddings on ${backend} (f32 and int8) match tfjs on ${INCEPTION_IMAGES} images`, async () => {
    const { result, errors } = await inImagePage(backend, async (simil, _, { blobs, settle }) => {
      const out = {};
      for (const weights of ['f32', 'int8']) {
        const info = await simil.loadImageModel({ model: 'inception_v3', weights });
        const vectors = await simil.embedImages(blobs, { batchSize: 3 });
        out[weights] = { info, vectors: vectors.map((v) => Array.from(v)) };
      }
      return { backend: simil.backend, out };
    }, undefined, inception);
    assert.deepEqual(errors, []);
    assert.equal(result.backend, backend);
    for (const weights of ['f32', 'int8']) {
      const { info, vectors } = result.out[weights];
      assert.equal(info.model, 'inception_v3');
      assert.equal(info.inputSize, 299);
      assert.equal(info.weights, weights);
      assert.equal(info.dim, inception.images[0].embedding.length);
      assert.equal(vectors.length, INCEPTION_IMAGES);
      const min = minCosine(vectors, inception.images);
      assert.ok(min >= BARS[weights], `InceptionV3 min cosine ${min} < ${BARS[weights]} on ${backend} ${weights}`);
    }
  });
}

/** Reads the f32 tensors of a safetensors file. */
function safetensors(file) {
  const bytes = new Uint8Array(file); // a copy: a Node Buffer's slice() would share its pool
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = t.data_offsets;
    const data = bytes.slice(8 + headerLen + start, 8 + headerLen + end);
    tensors[name] = { shape: t.shape, values: new Float32Array(data.buffer) };
  }
  return tensors;
}

/** `normalize(P (x - mean))`, the whitening as src/model/whitening.rs defines it. */
function whiten({ mean, projection }, x) {
  const [out, dim] = projection.shape;
  const y = Array.from({ length: out }, (_, r) => {
    let s = 0;
    for (let c = 0; c < dim; c++) s += projection.values[r * dim + c] * (x[c] - mean.values[c]);
    return s;
  });
  const norm = Math.hypot(...y);
  return y.map((v) => v / norm);
}

test('the default image embedding is whitened with the shipped whitening; fitImageWhitening learns one from the user\'s images', async () => {
  const shipped = safetensors(await readFile(new URL('pkg/weights/mobilenet_v2.whitening.safetensors', ROOT)));
  const { result, errors } = await inImagePage('cpu', async (simil, _, { blobs, settle }) => {
    const info = await simil.loadImageModel();
    const images = blobs.slice(0, 6);
    const whitened = (await simil.embedImages(images)).map((v) => Array.from(v));
    const raw = (await simil.embedImages(images, { whiten: false })).map((v) => Array.from(v));
    // A cancelled fit keeps the shipped whitening.
    const controller = new AbortController();
    let cancelled;
    try {
      await simil.fitImageWhitening(blobs, { batchSize: 4, signal: controller.signal, onProgress: () => controller.abort() });
    } catch (e) {
      cancelled = e.name;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const afterCancel = (await simil.embedImages(images)).map((v) => Array.from(v));
    const fitted = await simil.fitImageWhitening(blobs, { batchSize: 16 });
    const refitted = (await simil.embedImages(images)).map((v) => Array.from(v));
    const reloaded = await simil.loadImageModel({ whitening: fitted });
    const again = (await simil.embedImages(images)).map((v) => Array.from(v));
    const plain = await simil.loadImageModel({ whitening: false });
    return { info, whitened, raw, cancelled, afterCancel, fitted: Array.from(fitted), refitted, reloaded, again, plain };
  });
  assert.deepEqual(errors, []);
  assert.equal(result.info.whitened, true);
  assert.equal(result.plain.whitened, false);
  assert.equal(result.reloaded.whitened, true);
  const maxDiff = (a, b) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  result.raw.forEach((raw, i) => {
    const want = whiten(shipped, raw);
    const d = maxDiff(result.whitened[i], want);
    assert.ok(d < 1e-4, `image ${i}: whitened vector differs from P (x - mean) by ${d} (${result.whitened[i].slice(0, 3)} vs ${want.slice(0, 3)})`);
    assert.ok(maxDiff(result.whitened[i], raw) > 1e-2, 'whitening changes the vector');
  });
  assert.equal(result.cancelled, 'AbortError');
  assert.deepEqual(result.afterCancel, result.whitened, 'a cancelled fit keeps the previous whitening');
  const fitted = safetensors(new Uint8Array(result.fitted));
  assert.deepEqual(fitted.projection.shape, shipped.projection.shape);
  result.raw.forEach((raw, i) => {
    assert.ok(maxDiff(result.refitted[i], whiten(fitted, raw)) < 1e-4, `image ${i}: fitted whitening applied`);
  });
  assert.deepEqual(result.again, result.refitted, 'the returned bytes restore the fitted whitening');
});

test('a cancelled embedding run stops between batches and leaves the engine usable', async () => {
  const { result, errors } = await inImagePage('cpu', async (simil, _, { blobs, settle }) => {
    await simil.loadImageModel();
    const controller = new AbortController();
    const progress = [];
    let error;
    try {
      await simil.embedImages(blobs.slice(0, 40), {
        batchSize: 4,
        signal: controller.signal,
        onProgress: (p) => {
          progress.push(p);
          controller.abort();
        },
      });
    } catch (e) {
      error = { name: e.name };
    }
    // Progress messages posted after the abort are not delivered; the worker stops within a batch.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await simil.embedImages(blobs.slice(0, 2));
    const direct = await simil.embedImages([blobs[1]]);
    const same = again[1].every((x, i) => x === direct[0][i]);
    return { error, progress: progress.length, again: again.length, same };
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(result.error, { name: 'AbortError' });
  assert.equal(result.progress, 1, 'progress stops being reported after the abort');
  assert.equal(result.again, 2);
  assert.ok(result.same, 'an image embeds to the same vector alone and within a batch');
});

test('bad image input rejects with a SimilError that names the cause', async () => {
  const { result } = await inImagePage('cpu', async (simil, _, { blobs, settle }) => {
    const fail = settle;
    return {
      noModel: await fail(simil.embedImages([blobs[0]])),
      badUrl: await fail(simil.loadImageModel({ url: '/no/such/weights.safetensors' })),
      badWeights: await fail(simil.loadImageModel({ weights: 'f16' })),
      badModel: await fail(simil.loadImageModel({ model: 'resnet50' })),
      loaded: await simil.loadImageModel(),
      corrupt: await fail(simil.embedImages([blobs[0], new Uint8Array([1, 2, 3, 4])])),
      notImage: await fail(simil.embedImages([{ hello: 'world' }])),
      badPixels: await fail(simil.embedImages([new ImageData(2, 2)].map((d) => ({ data: d.data.subarray(0, 15), width: 2, height: 2 })))),
      pixels: (await simil.embedImages([new ImageData(3, 3)]))[0].length,
    };
  });
  assert.match(result.noModel.message, /no image model is loaded/);
  assert.equal(result.noModel.name, 'SimilError');
  assert.match(result.badUrl.message, /could not fetch the image model .*404/);
  assert.match(result.badWeights.message, /unknown weights `f16`/);
  assert.match(result.badModel.message, /unknown model `resnet50`/);
  assert.equal(result.loaded.weights, 'int8');
  assert.equal(result.loaded.model, 'mobilenet_v2', 'MobileNetV2 stays the default');
  assert.equal(result.loaded.inputSize, 224);
  assert.match(result.corrupt.message, /image 1 of the batch: could not decode image/);
  assert.equal(result.corrupt.code, 'model');
  assert.match(result.notImage.message, /an image must be a Blob/);
  assert.match(result.badPixels.message, /need 16 bytes, got 15/);
  assert.equal(result.pixels, result.loaded.dim);
});
