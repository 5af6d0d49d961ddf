// simil's worker: loads the WebAssembly engine and answers the main thread's calls, one at a
// time and in order. Replies: { type: 'result' | 'error' | 'progress', id, ... } and, when the
// engine cannot load at all, { type: 'fatal', error }.
import init, { Engine } from './wasm/simil.js';

let engine = null;
const cancelled = new Set();

function describe(e) {
  return { name: e?.name ?? 'Error', code: e?.code ?? 'internal', message: e?.message ?? String(e) };
}

async function loadWasm() {
  try {
    await init();
  } catch (e) {
    const message = `simil's WebAssembly could not be loaded: ${e?.message ?? e}`;
    self.postMessage({ type: 'fatal', error: { name: 'SimilError', code: 'wasm', message } });
    throw e;
  }
}
const ready = loadWasm();

function abortError() {
  return { name: 'AbortError', code: 'aborted', message: 'the call was cancelled' };
}

// Images arrive as encoded bytes (Blob, File, ArrayBuffer, Uint8Array) or as pixels
// (ImageData, ImageBitmap); the engine takes RGBA pixels. Encoded images are decoded here by the
// browser (any format it reads: PNG, JPEG, WebP, GIF, AVIF), upright as their EXIF orientation
// says, without colour management (as the native decoder), transparency composited on white.
// `index` is the image's place in its batch, for errors.
async function toEngineImage(image, index) {
  if (image instanceof ArrayBuffer || image instanceof Uint8Array) image = new Blob([image]);
  if (typeof Blob !== 'undefined' && image instanceof Blob) {
    try {
      image = await createImageBitmap(image, { imageOrientation: 'from-image', colorSpaceConversion: 'none' });
    } catch (e) {
      throw { name: 'SimilError', code: 'model', message: `image ${index} of the batch: could not decode image (${e.message})` };
    }
  }
  if (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) {
    const canvas = new OffscreenCanvas(image.width, image.height);
    const context = canvas.getContext('2d');
    context.fillStyle = '#fff';
    context.fillRect(0, 0, image.width, image.height);
    context.drawImage(image, 0, 0);
    image.close();
    image = context.getImageData(0, 0, canvas.width, canvas.height);
  }
  if (image && image.data instanceof Uint8ClampedArray) {
    const { data, width, height } = image;
    return { rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
  }
  throw {
    name: 'SimilError',
    code: 'input',
    message: 'an image must be a Blob, File, ArrayBuffer, Uint8Array, ImageData or ImageBitmap',
  };
}

// Runs `embed(batch)` over `items` in batches of `batchSize`, reporting { done, total } after
// each batch through `call` and checking for cancellation between batches (yielding so that a
// cancel message can land); resolves to the batches' Float32Arrays concatenated.
async function inBatches(call, items, batchSize, embed) {
  const chunks = [];
  for (let start = 0; start < items.length; start += batchSize) {
    if (call.cancelled()) throw abortError();
    chunks.push(await embed(items.slice(start, start + batchSize)));
    call.progress({ done: Math.min(start + batchSize, items.length), total: items.length });
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

async function fetchBytes(url, what) {
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    return new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw { name: 'SimilError', code: 'model', message: `could not fetch ${what} from ${url}: ${e.message}` };
  }
}

// A model file given to loadClip: a URL to fetch, or its bytes (Uint8Array, ArrayBuffer, Blob, File).
async function toBytes(source, what) {
  if (typeof source === 'string') return fetchBytes(source, what);
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  throw { name: 'SimilError', code: 'input', message: `${what} must be a URL, a File/Blob, an ArrayBuffer or a Uint8Array` };
}

function collectionCall(method) {
  return (name, ...args) => engine[method](name, ...args);
}

const methods = {
  async open(backend) {
    await ready;
    if (engine) throw { name: 'SimilError', code: 'state', message: 'simil is open already' };
    engine = await Engine.open(backend);
    return { backend: engine.backend() };
  },
  createCollection: collectionCall('createCollection'),
  add: collectionCall('add'),
  delete: collectionCall('delete'),
  search: collectionCall('search'),
  setEfSearch: collectionCall('setEfSearch'),
  count: collectionCall('count'),
  get: collectionCall('get'),
  stats: collectionCall('stats'),
  config: collectionCall('config'),
  save: collectionCall('save'),
  load: collectionCall('load'),
  learnedFields: collectionCall('learnedFields'),
  learnField: collectionCall('learnField'),
  evaluate: collectionCall('evaluate'),
  calibrate: collectionCall('calibrate'),
  matchLabel: collectionCall('matchLabel'),
  // `whitening`: a URL to fetch, the file's bytes, or null for none.
  async loadImageModel(url, whitening) {
    const bytes = await fetchBytes(url, 'the image model');
    const whiteningBytes = typeof whitening === 'string' ? await fetchBytes(whitening, 'the image whitening') : whitening;
    const info = engine.loadImageModel(bytes);
    const { dim } = engine.setImageWhitening(whiteningBytes ?? undefined);
    return { ...info, dim, whitened: whiteningBytes != null, bytes: bytes.length };
  },
  // Embeds `images` without whitening, learns a whitening from them and installs it; resolves
  // to the whitening file's bytes. A cancelled call leaves the previous whitening in place.
  async fitImageWhitening(images, batchSize) {
    const raw = await methods.embedImages.call(this, images, batchSize, false);
    return engine.fitImageWhitening(raw);
  },
  // Embeds `images` in batches of `batchSize`, with progress and cancellation between batches;
  // resolves to one Float32Array of n × dim.
  async embedImages(images, batchSize, whiten = true) {
    return inBatches(this, images, batchSize, async (batch) =>
      engine.embedImages(await Promise.all(batch.map((image, i) => toEngineImage(image, i))), whiten));
  },
  async loadTextModel(weightsUrl, tokenizerUrl) {
    const [weights, tokenizer] = await Promise.all(
      [weightsUrl, tokenizerUrl].map((url) => fetchBytes(url, 'the text model')));
    return { ...engine.loadTextModel(weights, tokenizer), bytes: weights.length };
  },
  // CLIP from the user's own files: { weights, config, vocab, merges }, each a URL or bytes.
  async loadClip(files) {
    const names = { weights: 'the CLIP weights', config: 'the CLIP config.json', vocab: 'the CLIP vocab.json', merges: 'the CLIP merges.txt' };
    const [weights, config, vocab, merges] = await Promise.all(
      Object.entries(names).map(([key, what]) => toBytes(files[key], what)));
    return { ...engine.loadClip(weights, config, vocab, merges), bytes: weights.length };
  },
  // Embeds `texts` as embedImages does images; resolves to one Float32Array of n × dim.
  async embedTexts(texts, batchSize) {
    if (!texts.every((t) => typeof t === 'string')) {
      throw { name: 'SimilError', code: 'input', message: 'embedTexts() takes an array of strings' };
    }
    return inBatches(this, texts, batchSize, (batch) => engine.embedTexts(batch));
  },
  async randomProjection(rows, inputDim, outputDim, seed) {
    const out = await engine.randomProjection(rows, inputDim, outputDim, BigInt(seed));
    return out;
  },
};

// Calls run one after another so that a long call never interleaves with the next.
let queue = Promise.resolve();
let waiting = 0;

// Runs `fn` on the engine in turn with the queued calls; resolves to its result.
function exclusive(fn) {
  const result = queue.then(fn);
  queue = result.catch(() => {});
  return result;
}

// The trainer is a second wasm module (burn's autodiff and optimiser), fetched on first use.
let trainerModule = null;
function loadTrainer() {
  trainerModule ??= import('./wasm/simil_train.js').then(async (module) => {
    await module.default();
    return module;
  }).catch((e) => {
    trainerModule = null;
    throw { name: 'SimilError', code: 'wasm', message: `simil's trainer could not be loaded: ${e?.message ?? e}` };
  });
  return trainerModule;
}

// Long calls that run beside the queue: their work is on the trainer (another wasm instance),
// in slices of steps, so that searches and other calls are answered between slices; they touch
// the engine only through `exclusive`.
const background = {
  // Trains a metric head on the vectors of `options.field` labelled by `options.labelKey`, then
  // installs it as the learned field `options.output` (re-embedding every item at once). A
  // cancel between slices drops the run and leaves the collection as it was.
  async trainHead(name, { field, labelKey, output, backend = engine.backend(), stepsPerSlice = 10 }, training) {
    const data = await exclusive(() => engine.trainingRows(name, field, labelKey));
    if (data.classes.length < 2) {
      throw { name: 'SimilError', code: 'train', message: `trainHead() needs items of at least 2 labels under \`${labelKey}\`; found ${data.classes.length}` };
    }
    const { HeadTrainer } = await loadTrainer();
    if (this.cancelled()) throw abortError();
    const trainer = await HeadTrainer.open(backend, training, data.rows, data.labels, data.unlabelled, data.dim);
    try {
      let last = null;
      while (!trainer.finished()) {
        if (this.cancelled()) throw abortError();
        const steps = await trainer.run(stepsPerSlice);
        last = steps[steps.length - 1];
        this.progress(last);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      if (this.cancelled()) throw abortError();
      const head = await trainer.headBytes();
      const losses = trainer.losses();
      const learned = await exclusive(() => engine.learnField(name, output, field, head));
      scheduleUpkeep();
      return {
        field: output, source: field, backend: trainer.backend(), classes: data.classes,
        labelled: data.labels.length, unlabelled: data.unlabelled.length / data.dim,
        steps: losses.length, losses, trainS: last?.elapsedS ?? 0, head, learned,
      };
    } finally {
      trainer.free();
    }
  },
};

self.addEventListener('message', (event) => {
  const msg = event.data;
  if (msg.type === 'cancel') {
    cancelled.add(msg.id);
    return;
  }
  if (msg.type !== 'call') return;
  if (background[msg.method]) {
    answer(msg, background);
    return;
  }
  waiting++;
  exclusive(async () => {
    waiting--;
    if (cancelled.delete(msg.id)) return;
    await answer(msg, methods);
    scheduleUpkeep();
  });
});

// Runs `table[method]` for call `id` and posts its result (typed arrays transferred) or error.
async function answer({ id, method, args }, table) {
  try {
    const fn = table[method];
    if (!fn) throw { name: 'SimilError', code: 'input', message: `unknown method \`${method}\`` };
    if (method !== 'open' && !engine) {
      throw { name: 'SimilError', code: 'state', message: 'simil is not open yet' };
    }
    const context = {
      cancelled: () => cancelled.has(id),
      progress: (progress) => self.postMessage({ type: 'progress', id, progress }),
    };
    const value = await fn.apply(context, args);
    const transfer = ArrayBuffer.isView(value) ? [value.buffer] : [];
    self.postMessage({ type: 'result', id, value }, transfer);
  } catch (e) {
    self.postMessage({ type: 'error', id, error: describe(e) });
  } finally {
    cancelled.delete(id);
  }
}

// Index upkeep (sealing exact segments into HNSW graphs, merging) runs one step at a time,
// only when no call is waiting, so searches keep answering between steps.
let upkeepTimer = null;
function scheduleUpkeep() {
  if (upkeepTimer !== null || !engine) return;
  upkeepTimer = setTimeout(() => {
    upkeepTimer = null;
    if (waiting > 0) return; // the call that is waiting reschedules upkeep when it is done
    exclusive(() => {
      try {
        if (engine.maintainStep()) scheduleUpkeep();
      } catch (e) {
        console.warn('simil: index upkeep failed', e);
      }
    });
  }, 0);
}
