// Runs inside the benchmark page: `window.runEngine(spec)` measures one engine (simil on
// WebGPU or CPU, or tfjs on wasm / WebGL) over the same encoded images, and returns images/s
// for each batch size, the cold start and, for simil, the vectors for the parity check.
import { open } from '/pkg/index.js';

const fetchBlobs = (files) => Promise.all(files.map(async (f) => (await fetch(f)).blob()));

async function timeBatches(embed, blobs, batch, count) {
  const started = performance.now();
  for (let done = 0; done < count; done += batch) {
    const slice = Array.from({ length: Math.min(batch, count - done) }, (_, i) => blobs[(done + i) % blobs.length]);
    await embed(slice);
  }
  return count / ((performance.now() - started) / 1000);
}

/** `count` images per second through one call of `embed` (the pool's path: batches in flight). */
async function timeBulk(embed, blobs, count) {
  const images = Array.from({ length: count }, (_, i) => blobs[i % blobs.length]);
  const started = performance.now();
  await embed(images);
  return count / ((performance.now() - started) / 1000);
}

async function simil(spec, blobs) {
  const t0 = performance.now();
  const engine = await open({ backend: spec.backend, workers: spec.workers, storage: 'memory' });
  // Plain network vectors: parity is checked against tfjs (whitening adds one 384 × 384 product).
  await engine.loadImageModel({ weights: spec.weights, whitening: false });
  await engine.embedImages([blobs[0]]);
  const coldStartMs = performance.now() - t0;
  const vectors = (await engine.embedImages(blobs, { batchSize: 10 })).map((v) => Array.from(v));
  const speed = {};
  for (const [batch, count] of spec.batches) {
    speed[batch] = await timeBatches((b) => engine.embedImages(b, { batchSize: batch }), blobs, batch, count);
  }
  if (spec.bulk) speed[spec.bulk.batch] = await timeBulk((b) => engine.embedImages(b, { batchSize: spec.bulk.batch }), blobs, spec.bulk.count);
  const memory = await engine.memory();
  engine.terminate();
  return { backend: engine.backend, coldStartMs, speed, vectors, workers: memory.workers.length };
}

async function tfjs(spec, blobs) {
  const tf = window.tf;
  const t0 = performance.now();
  if (spec.backend === 'wasm') {
    tf.wasm.setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
    // Threads need a cross-origin isolated page (the bench serves COOP/COEP for them); else one.
    tf.wasm.setThreadsCount(spec.threads ? navigator.hardwareConcurrency : 1);
  }
  if (!(await tf.setBackend(spec.backend))) throw new Error(`tfjs backend ${spec.backend} unavailable`);
  await tf.ready();
  const full = await tf.loadLayersModel(spec.modelUrl);
  const taps = spec.taps.map((name) => full.getLayer(name).output);
  const model = tf.model({ inputs: full.inputs, outputs: taps });
  const embed = async (batch) => {
    const bitmaps = await Promise.all(batch.map((b) => createImageBitmap(b)));
    const out = tf.tidy(() => {
      const x = tf.stack(bitmaps.map((bm) => tf.image.resizeBilinear(
        tf.browser.fromPixels(bm).toFloat().div(255), [spec.size, spec.size], true)));
      let ys = model.predict(x);
      if (!Array.isArray(ys)) ys = [ys];
      const pooled = ys.map((y) => tf.pow(tf.mean(tf.pow(tf.clipByValue(y, 1e-6, Infinity), 3), [1, 2]), 1 / 3));
      const v = pooled.length > 1 ? tf.concat(pooled, 1) : pooled[0];
      return tf.div(v, tf.norm(v, 2, 1, true));
    });
    bitmaps.forEach((bm) => bm.close());
    await out.data();
    out.dispose();
  };
  await embed([blobs[0]]);
  const coldStartMs = performance.now() - t0;
  const speed = {};
  for (const [batch, count] of spec.batches) speed[batch] = await timeBatches(embed, blobs, batch, count);
  if (spec.bulk) speed[spec.bulk.batch] = await timeBulk(async (images) => {
    for (let i = 0; i < images.length; i += spec.bulk.batch) await embed(images.slice(i, i + spec.bulk.batch));
  }, blobs, spec.bulk.count);
  const threads = spec.backend === 'wasm' ? tf.wasm.getThreadsCount?.() ?? null : null;
  return { backend: tf.getBackend(), coldStartMs, speed, threads, threadsAsked: spec.threads ? navigator.hardwareConcurrency : 1, isolated: self.crossOriginIsolated };
}

window.runEngine = async (spec) => {
  const blobs = await fetchBlobs(spec.files);
  return spec.engine === 'simil' ? simil(spec, blobs) : tfjs(spec, blobs);
};
window.benchReady = true;
