// simil's worker: answers the page's calls (pkg/protocol.js names them), one at a time and in
// order. At start it loads only the search module (collections, index, keyword search); the
// model module is imported on the first model call, the trainer on the first trainHead.
// Models run in a pool of model workers (pkg/pool.js) that this worker starts on the first
// model call. Replies: { type: 'result' | 'error' | 'progress', id, ... }, { type: 'state',
// backend, reason } when the models' device is decided or changes, and { type: 'fatal', error }
// when the search module cannot load.
import initSearch, { SearchEngine } from './wasm/simil_search.js';
import { BACKENDS, CALLS, STORAGES, bindArgs, describe, fail, isType } from './protocol.js';
import { openStore, usage } from './store.js';
import { modelFile, wasmModule } from './cache.js';
import { MAX_WORKERS, Pool, inFlight } from './pool.js';

let search = null;
let backend = 'auto';
/** Each loaded wasm module's memory, by module: what `memory()` reports. */
const memories = {};
const cancelled = new Set();

// Each wasm module loads through cache.js (checked against wasm/manifest.json, kept in the Cache
// API); its URL is a literal `new URL('./wasm/…', import.meta.url)` so that bundlers copy it.
/** The search module, compiled once: this worker's instance, and the builder's. */
let searchModule = null;
const ready = wasmModule('simil_search_bg.wasm', new URL('./wasm/simil_search_bg.wasm', import.meta.url)).then(async (bytes) => {
  searchModule = await WebAssembly.compile(bytes);
  return initSearch({ module_or_path: searchModule });
}).then((exports) => {
  memories.search = exports.memory;
  search = new SearchEngine();
}, (e) => {
  self.postMessage({ type: 'fatal', error: fail('wasm', `simil's WebAssembly could not be loaded: ${e?.message ?? e}`) });
  throw e;
});

// ---- Modules by need ----

/**
 * Imports a wasm module once (`load` is a literal `import('./wasm/…')`, which bundlers follow)
 * and instantiates it with its bytes from cache.js (`name`: the .wasm's file name, `url`: a
 * literal `new URL('./wasm/…_bg.wasm', import.meta.url)`); resolves to its exports.
 */
function lazyModule(load, name, url, what) {
  let loading = null;
  return () => {
    loading ??= Promise.all([load(), wasmModule(name, url())]).then(async ([module, bytes]) => {
      memories[what.split(' ')[0]] = (await module.default({ module_or_path: bytes })).memory;
      return module;
    }).catch((e) => {
      loading = null;
      throw e?.code === 'wasm' ? e : fail('wasm', `simil's ${what} could not be loaded: ${e?.message ?? e}`);
    });
    return loading;
  };
}
const trainerModule = lazyModule(() => import('./wasm/simil_train.js'), 'simil_train_bg.wasm',
  () => new URL('./wasm/simil_train_bg.wasm', import.meta.url), 'trainer');

/** The default number of model workers: one a core, at most 4. */
const DEFAULT_WORKERS = Math.max(1, Math.min(globalThis.navigator?.hardwareConcurrency ?? 1, 4));

/** A model pool on `backend` with `size` workers; it starts (and compiles the model module) on first use. */
const makePool = (backend, size) => new Pool({ size, backend, compile: compileModel, onState: announce });

/** The model module, compiled once here and handed to each model worker. */
const compileModel = () => wasmModule('simil_model_bg.wasm', new URL('./wasm/simil_model_bg.wasm', import.meta.url))
  .then((bytes) => WebAssembly.compile(bytes))
  .catch((e) => {
    throw e?.code === 'wasm' ? e : fail('wasm', `simil's model module could not be loaded: ${e?.message ?? e}`);
  });

/** The pool's device as the page shows it (`simil.backend`, `backendReason`). */
function announce(backend, reason) {
  self.postMessage({ type: 'state', backend, reason });
}

/** The model pool: open() makes it again on the backend and size it is given. */
let pool = makePool('auto', DEFAULT_WORKERS);

// ---- Inputs ----

/**
 * A model file: a URL to fetch, or its bytes (Uint8Array, ArrayBuffer, Blob, File), which are
 * used as they are. A URL goes through cache.js: simil's own weights are checked against their
 * SHA-256 and kept in the Cache API, so the next visit reads them from there (offline too). A
 * download reports `{ status: 'download', file, url, loaded, total }` to `call`'s progress as it
 * reads (`file`: the URL's last segment; `total`: Content-Length, or null when unknown or
 * compressed), at most every 50 ms, and once more when complete; a cache hit reports once, with
 * `loaded === total` and `cached: true`; a cancelled call stops reading.
 */
async function toBytes(source, what, call) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  if (typeof source !== 'string') throw fail('input', `${what} must be a URL, a File/Blob, an ArrayBuffer or a Uint8Array`);
  return modelFile(source, what, call);
}

/**
 * Runs `embed(batch)` (a pool call) over `items` in batches, several in flight so that every
 * model worker is busy, with one progress for the whole and cancel between batches; resolves to
 * the batches' vectors in order, as one Float32Array.
 */
async function inBatches(call, items, batchSize, embed) {
  const chunks = [];
  let done = 0;
  await inFlight(batchesOf(items, batchSize), inFlightBatches(), embed, (chunk, batch) => {
    chunks.push(chunk);
    done += batch.length;
    call.progress({ done, total: items.length });
  }, call);
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((offset, chunk) => (out.set(chunk, offset), offset + chunk.length), 0);
  return out;
}

/** `items` cut into batches of `size` (the last may be shorter). */
function batchesOf(items, size) {
  const batches = [];
  for (let start = 0; start < items.length; start += size) batches.push(items.slice(start, start + size));
  return batches;
}

/** How many batches to keep in flight: two a model worker. */
const inFlightBatches = () => 2 * Math.max(1, pool.workers.length || pool.size);

// Vectors cross into the search module as the bytes of a Float32Array, which it copies in one
// go (number by number, serde would spend most of a query's time on them). Anything else is
// passed on as it is, for the module to reject with a message that names it.
function f32Bytes(vector) {
  if (!Array.isArray(vector) && !(ArrayBuffer.isView(vector) && !(vector instanceof DataView))) return vector;
  const floats = vector instanceof Float32Array ? vector : Float32Array.from(vector, Number);
  return new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
}

const isObject = (value) => isType(value, 'object');

/** Items with each `vectors[field]` as f32 bytes (the caller's objects are not changed). */
function itemsAsBytes(items) {
  return items.map((item) => (isObject(item) && isObject(item.vectors)
    ? { ...item, vectors: Object.fromEntries(Object.entries(item.vectors).map(([f, v]) => [f, f32Bytes(v)])) }
    : item));
}

/** A query with its shorthand `{ vector, field }` spelt out as `vectors`, as f32 bytes. */
function normaliseQuery(collection, { vector, field, vectors, ...rest }) {
  if (vectors !== undefined) {
    const spelt = Array.isArray(vectors) ? vectors.map((e) => (isObject(e) ? { ...e, vector: f32Bytes(e.vector) } : e)) : vectors;
    return { vectors: spelt, ...rest };
  }
  if (vector === undefined) {
    if (typeof rest.text === 'string') return { vectors: [], ...rest };
    throw fail('input', 'a query needs `vector` (or `vectors` for several fields, or `text`)');
  }
  return { vectors: [{ field: field ?? firstField(collection), vector: f32Bytes(vector), weight: 1 }], ...rest };
}

// What the worker needs to know of each collection's config, read once per collection rather
// than on every call: the first vector field (a query's default), the keyword fields, and the
// fields bound to a model, by input. A collection created, loaded or dropped forgets it.
const layouts = new Map();
function layout(collection) {
  if (!layouts.has(collection)) {
    const { fields, textFields, embed } = search.config(collection);
    const bound = { image: [], text: [] };
    for (const [field, input] of Object.entries(embed)) bound[input].push(field);
    const aligned = search.learnedFields(collection).some((f) => f.text);
    layouts.set(collection, { firstField: fields[0].name, textFields, bound, aligned });
  }
  return layouts.get(collection);
}
const firstField = (collection) => layout(collection).firstField;

function labelled(collection, { field, labelKey, vectors, labels }) {
  if (typeof labelKey !== 'string') throw fail('input', '`labelKey` must be a string');
  return {
    field: field ?? firstField(collection), labelKey,
    vectors: Array.isArray(vectors) ? vectors.map(f32Bytes) : vectors,
    labels: Array.isArray(labels) ? labels.map(String) : labels,
  };
}

// ---- Collections that embed: fields bound to a model (config.embed) ----

/** The model of `input` ("image" or "text"): the loaded one, else the default (loaded now). */
async function ensureModel(input, call) {
  await pool.start();
  const loaded = pool.loaded[input];
  if (loaded) return loaded;
  const load = input === 'image' ? handlers.loadImageModel : handlers.loadTextModel;
  if (!defaults) throw fail('state', `no ${input} model is loaded`);
  return load.call(call, defaults[input]);
}

/** `config` with the width of each model-bound field that leaves `dim` out, from its model. */
async function withModelDims(config, call) {
  const embed = isObject(config.embed) ? config.embed : {};
  if (!Array.isArray(config.fields)) return config;
  const fields = [];
  for (const field of config.fields) {
    const input = isObject(field) && field.dim === undefined ? embed[field.name] : undefined;
    const dim = input === 'image' || input === 'text' ? (await ensureModel(input, call)).dim : field?.dim;
    fields.push(isObject(field) ? { ...field, dim } : field);
  }
  return { ...config, fields };
}

/** Unit vectors of `inputs` ("image" or "text"), one Float32Array each. */
async function embedInputs(input, inputs, call) {
  await ensureModel(input, call);
  if (input === 'text' && !inputs.every((t) => typeof t === 'string')) throw fail('input', 'an item\'s or query\'s `text` must be a string');
  const flat = await pool.run(input === 'image' ? 'embedImages' : 'embedTexts', input === 'image' ? [inputs, true] : [inputs], call);
  const dim = flat.length / inputs.length;
  return inputs.map((_, i) => flat.subarray(i * dim, (i + 1) * dim));
}

/** Items whose `image` / `text` are embedded into the fields bound to them. */
async function embedItems(items, bound, call) {
  const out = items.map((item) => (isObject(item) ? { ...item, vectors: { ...item.vectors } } : item));
  for (const input of ['image', 'text']) {
    const carrying = out.filter((item) => isObject(item) && item[input] !== undefined);
    if (!carrying.length) continue;
    if (!bound[input].length) throw fail('input', `items carry \`${input}\` but no field of this collection embeds ${input}s (config.embed)`);
    const vectors = await embedInputs(input, carrying.map((item) => item[input]), call);
    carrying.forEach((item, i) => {
      for (const field of bound[input]) item.vectors[field] = vectors[i];
      delete item[input];
    });
  }
  return out;
}

/**
 * A query with its `image` or `text` embedded, and which path ran (`via`): an image through the
 * image model; a text through a field bound to texts, else through CLIP onto the image field
 * when CLIP is loaded, else through the collection's text→image aligner (a learned field with a
 * text head), else by keywords alone. Fused with keywords where the collection has
 * `textFields`.
 */
async function embedQuery(collection, { image, ...query }, call) {
  const { bound, textFields, aligned } = layout(collection);
  const keywords = textFields.length ? query.text : undefined;
  if (image !== undefined) {
    const field = query.field ?? bound.image[0];
    if (field === undefined) throw fail('input', 'an `image` query needs a field that embeds images (config.embed)');
    const [vector] = await embedInputs('image', [image], call);
    return { query: { ...query, text: keywords, field, vector }, via: 'image' };
  }
  if (typeof query.text !== 'string' || query.vector !== undefined || query.vectors !== undefined) {
    return { query, via: query.vector !== undefined || query.vectors !== undefined ? 'vector' : 'keywords' };
  }
  if (bound.text.length) {
    const [vector] = await embedInputs('text', [query.text], call);
    return { query: { ...query, text: keywords, field: query.field ?? bound.text[0], vector }, via: 'text' };
  }
  if (bound.image.length && pool.loaded.image?.model === 'clip') {
    const [vector] = await embedInputs('text', [query.text], call);
    return { query: { ...query, text: keywords, field: query.field ?? bound.image[0], vector }, via: 'clip' };
  }
  if (aligned) {
    const [textVector] = await embedInputs('text', [query.text], call);
    return { query: { ...query, text: keywords, vectors: [], textVector: f32Bytes(textVector) }, via: 'aligner' };
  }
  return { query, via: 'keywords' };
}

// ---- Handlers: one per call that is not a plain pass-through (`wasm` in the table) ----

const handlers = {
  async createCollection({ name, config }) {
    search.createCollection(name, await withModelDims(config, this));
    layouts.delete(name);
    changed(name);
    return { name };
  },
  loadCollection({ name, bytes }) {
    search.load(name, bytes);
    layouts.delete(name);
    changed(name);
    return { name };
  },
  async importCollection({ name, file }) {
    return handlers.loadCollection({ name, bytes: await toBytes(file, 'the collection file') });
  },
  async deleteCollection({ name }) {
    layouts.delete(name);
    const existed = search.dropCollection(name);
    await forget(name);
    return existed;
  },
  async collection({ name, config }) {
    if (config === undefined) search.config(name); // rejects for an unknown name
    else if (search.openCollection(name, await withModelDims(config, this))) {
      layouts.delete(name);
      changed(name);
    }
    return { name };
  },
  async add({ collection, items, batchSize = 16 }) {
    const { bound } = layout(collection);
    let [done, seen] = [0, 0];
    // Batches embed in the pool, several at once; each is added to the index in order as it
    // comes back. A cancel stops between batches: those already added stay.
    await inFlight(batchesOf(items, batchSize), inFlightBatches(), (batch) => embedItems(batch, bound, this), (batch) => {
      done += search.add(collection, itemsAsBytes(batch));
      seen += batch.length;
      changed(collection);
      this.progress({ done: seen, total: items.length });
    }, this);
    return done;
  },
  delete({ collection, ids }) {
    const n = search.delete(collection, (Array.isArray(ids) ? ids : [ids]).map(String));
    changed(collection);
    return n;
  },
  setEfSearch({ collection, ef }) {
    search.setEfSearch(collection, ef);
    changed(collection);
  },
  async search({ collection, query }) {
    const { query: spelt, via } = await embedQuery(collection, query, this);
    return { hits: search.search(collection, normaliseQuery(collection, spelt)), via };
  },
  learnField({ collection, output, options: { source, head, textHead } }) {
    if (!(head instanceof Uint8Array) || !(textHead === undefined || textHead instanceof Uint8Array)) {
      throw fail('input', 'learnField(): `head` (and `textHead`, when given) must be a Uint8Array');
    }
    const learned = search.learnField(collection, output, source ?? firstField(collection), head, textHead);
    layouts.delete(collection);
    changed(collection);
    return learned;
  },
  async flush() {
    await flushNow();
  },
  async memory() {
    const bytes = (key) => memories[key]?.buffer.byteLength ?? null;
    const workers = await pool.memory();
    const model = workers.length ? workers.reduce((n, w) => n + w.bytes, 0) : null;
    return { search: bytes('search'), model, trainer: bytes('trainer'), builder: builderMemory, workers };
  },
  async storage() {
    const names = search.names();
    const persisted = await navigator.storage?.persisted?.().catch(() => null) ?? null;
    return {
      kind: store?.kind ?? 'memory', ...(await usage()), persisted,
      collections: names.map((name) => ({ name, bytes: search.save(name).length })),
      unsaved: names.filter(unsaved), damaged, error: storageError,
    };
  },
  evaluate({ collection, queries }) {
    return search.evaluate(collection, labelled(collection, queries), queries.k ?? 10);
  },
  calibrate({ collection, queries }) {
    return search.calibrate(collection, labelled(collection, queries), queries.precision);
  },
  match({ collection, vector, options }) {
    return search.matchLabel(collection, vector, options);
  },
  count({ collection }) {
    return search.stats(collection).items;
  },
  async loadImageModel({ url, whitening }) {
    const [bytes, white] = await Promise.all([toBytes(url, 'the image model', this), whitening == null ? null : toBytes(whitening, 'the image whitening', this), pool.start()]);
    this.checkCancelled(); // a cancelled load installs nothing
    return { ...(await pool.load('loadImageModel', [bytes, white], 'image', bytes.length)), bytes: bytes.length };
  },
  async loadTextModel({ url, tokenizerUrl }) {
    const [weights, tokenizer] = await Promise.all([toBytes(url, 'the text model', this), toBytes(tokenizerUrl, 'the tokenizer', this), pool.start()]);
    this.checkCancelled();
    return { ...(await pool.load('loadTextModel', [weights, tokenizer], 'text', weights.length)), bytes: weights.length };
  },
  async loadClip({ files }) {
    const names = { weights: 'the CLIP weights', config: 'the CLIP config.json', vocab: 'the CLIP vocab.json', merges: 'the CLIP merges.txt' };
    const loaded = await Promise.all(Object.entries(names).map(([key, what]) => toBytes(files[key], what, this)));
    await pool.start();
    this.checkCancelled();
    return { ...(await pool.load('loadClip', loaded, 'image', loaded[0].length)), bytes: loaded[0].length };
  },
  async models() {
    await pool.start();
    return { ...pool.loaded, device: pool.device };
  },
  async embedImages({ images, batchSize, whiten }) {
    return inBatches(this, images, batchSize, (batch) => pool.run('embedImages', [batch, whiten], this));
  },
  async embedTexts({ texts, batchSize }) {
    if (!texts.every((t) => typeof t === 'string')) throw fail('input', 'embedTexts(): `texts` must be an array of strings');
    return inBatches(this, texts, batchSize, (batch) => pool.run('embedTexts', [batch], this));
  },
  // Embeds `images` without whitening, learns a whitening from them and installs it on every
  // model worker; a cancelled call leaves the previous whitening in place.
  async fitImageWhitening({ images, batchSize }) {
    const raw = await handlers.embedImages.call(this, { images, batchSize, whiten: false });
    return pool.fitImageWhitening(raw);
  },
};

// Calls that run beside the queue: training works on the trainer (another wasm instance) in
// slices of steps, so searches are answered between slices; it touches the search engine only
// through `exclusive`.
const background = {
  // Trains a metric head on `field`'s vectors labelled by `labelKey`, then installs it as the
  // learned field `output`. A cancel between slices drops the run and changes nothing.
  async trainHead({ collection, options }) {
    const { field, labelKey, output, backend: trainOn = backend, stepsPerSlice = 10, training } = options;
    const data = await exclusive(() => search.trainingRows(collection, field, labelKey));
    if (data.classes.length < 2) {
      throw fail('train', `trainHead() needs items of at least 2 labels under \`${labelKey}\`; found ${data.classes.length}`);
    }
    const { HeadTrainer } = await trainerModule();
    this.checkCancelled();
    const trainer = await HeadTrainer.open(trainOn, training ?? {}, data.rows, data.labels, data.unlabelled, data.dim);
    try {
      let last = null;
      while (!trainer.finished()) {
        this.checkCancelled();
        const steps = await trainer.run(stepsPerSlice);
        last = steps[steps.length - 1];
        this.progress(last);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      this.checkCancelled();
      // The kept head (the best on the held-out labels), installed unless it scores below its
      // source there and `keepIfWorse` is not set: then the collection is left as it was.
      const head = await trainer.headBytes();
      const { losses, recipe, heldOut, installed, reason } = trainer.summary();
      const learned = await exclusive(() => {
        if (!installed) return search.learnedFields(collection);
        const fields = search.learnField(collection, output, field, head);
        layouts.delete(collection);
        changed(collection);
        return fields;
      });
      if (installed) scheduleUpkeep();
      return {
        field: output, source: field, backend: trainer.backend(), classes: data.classes,
        labelled: data.labels.length, unlabelled: data.unlabelled.length / data.dim,
        steps: losses.length, losses: Float32Array.from(losses), trainS: last?.elapsedS ?? 0, head, learned,
        installed, reason: reason ?? null, heldOut: heldOut ?? null, recipe,
      };
    } finally {
      trainer.free();
    }
  },
};

// ---- The edge: a call's arguments are checked here, against pkg/protocol.js's table and the
// shapes the glue receives, before a handler or a wasm export sees them. wasm-bindgen's glue
// checks no types (a number where a string is expected corrupts the wasm heap), and a message
// may come straight to the worker, not through index.js. A bad argument rejects with `input`
// naming it. ----

/** The most elements an array argument (items, ids, texts, a vector…) may have. */
const MAX_ELEMENTS = 1 << 24;
/** The longest vector the glue is handed (the index's own cap is lower, and names it). */
const MAX_VECTOR = 1 << 16;
/** The deepest nesting of objects and arrays in a call's arguments (payloads, filters, configs). */
const MAX_DEPTH = 64;

const own = (table, key) => typeof key === 'string' && Object.hasOwn(table, key);
/** A caller's string as a message quotes it: at most 100 characters. */
const quote = (text) => (text.length > 100 ? `${text.slice(0, 100)}…` : text);
const typeName = (value) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : ArrayBuffer.isView(value) ? value.constructor.name : typeof value);

/** Rejects with `input`: `what` (a call's argument, by name) must be `expected`. */
function bad(method, what, expected, value) {
  return fail('input', `${method}(): \`${quote(what)}\` must be ${expected}, got ${typeName(value)}`);
}

/** Checks that `value` is an array of at most MAX_ELEMENTS elements, each `each(element, i)`. */
function checkArray(method, what, value, each) {
  if (!Array.isArray(value) || value.length > MAX_ELEMENTS) throw bad(method, what, `an array of at most ${MAX_ELEMENTS} elements`, value);
  for (let i = 0; i < value.length; i++) each?.(value[i], i); // holes read as undefined
}

const isString = (v) => typeof v === 'string';
const isBytes = (v) => v instanceof Uint8Array || v instanceof ArrayBuffer || (typeof Blob !== 'undefined' && v instanceof Blob);

function checkStrings(method, what, value) {
  checkArray(method, what, value, (e, i) => {
    if (!isString(e)) throw bad(method, `${what}[${i}]`, 'a string', e);
  });
}

/** A vector: numbers (NaN and ∞ pass, for the index to refuse), or a non-BigInt typed array. */
function checkVector(method, what, value) {
  if (!isType(value, 'vector') || value instanceof BigInt64Array || value instanceof BigUint64Array || value.length > MAX_VECTOR) {
    throw bad(method, what, `an array of at most ${MAX_VECTOR} numbers or a typed array`, value);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (typeof value[i] !== 'number') throw bad(method, `${what}[${i}]`, 'a number', value[i]);
    }
  }
}

/** A model or collection file: an absolute URL (the page resolves relative ones), or its bytes. */
function checkSource(method, what, value, optional = false) {
  if (optional && value == null) return;
  if (isString(value) ? !URL.canParse(value) : !isBytes(value)) throw bad(method, what, 'an absolute URL or a Uint8Array, ArrayBuffer or Blob', value);
}

/** An image: encoded bytes (Blob, File, ArrayBuffer, Uint8Array) or pixels (ImageBitmap, ImageData). */
function checkImage(method, what, value) {
  if (isBytes(value) || (typeof ImageBitmap !== 'undefined' && value instanceof ImageBitmap)) return;
  const { data, width, height } = value ?? {};
  if (data instanceof Uint8ClampedArray) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height * 4) {
      const need = Number.isInteger(width) && Number.isInteger(height) ? `${width}x${height} RGBA pixels need ${width * height * 4} bytes` : `width and height must be positive integers, got ${width} and ${height}`;
      throw fail('input', `${method}(): \`${what}\`: ${need}, got ${data.length}`);
    }
    return;
  }
  throw fail('input', `${method}(): \`${what}\`: an image must be a Blob, File, ArrayBuffer, Uint8Array, ImageData or ImageBitmap, got ${typeName(value)}`);
}

function checkInteger(method, what, value, min, max, optional = true) {
  if (optional && value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) throw bad(method, what, `an integer in ${min}..=${max}`, value);
}

/** Throws when objects and arrays nest deeper than MAX_DEPTH (typed arrays and files are leaves). */
function checkDepth(method, value, depth = 0) {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return;
  if (depth >= MAX_DEPTH) throw fail('input', `${method}(): arguments nest deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value) && value.length > MAX_ELEMENTS) throw fail('input', `${method}(): an array of ${value.length} elements (at most ${MAX_ELEMENTS})`);
  const deeper = (e) => e !== null && typeof e === 'object' && checkDepth(method, e, depth + 1);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) deeper(value[i]);
  } else {
    for (const key in value) deeper(value[key]);
  }
}

/** Labelled queries (evaluate, calibrate). */
function checkLabelled(method, queries) {
  if (!isString(queries.labelKey)) throw bad(method, 'queries.labelKey', 'a string', queries.labelKey);
  if (queries.field !== undefined && !isString(queries.field)) throw bad(method, 'queries.field', 'a string', queries.field);
  checkArray(method, 'queries.vectors', queries.vectors, (v, i) => checkVector(method, `queries.vectors[${i}]`, v));
  checkArray(method, 'queries.labels', queries.labels);
  checkInteger(method, 'queries.k', queries.k, 0, 2 ** 32 - 1);
}

// What each call's arguments hold below the table's types: the shapes the glue receives, and the
// arguments the page's prepare() adds (index.js pageSide: batch sizes, model URLs). A check may
// return the arguments with their defaults filled in.
const shapes = {
  open(args) {
    if (!isString(args.backend) || !BACKENDS.includes(args.backend)) throw bad('open', 'backend', `one of ${BACKENDS.join(', ')}`, args.backend);
    if (args.storage !== undefined && (!isString(args.storage) || !STORAGES.includes(args.storage))) throw bad('open', 'storage', `one of ${STORAGES.join(', ')}`, args.storage);
    checkInteger('open', 'workers', args.workers, 1, MAX_WORKERS);
    if (args.models != null) {
      if (!isType(args.models, 'object')) throw bad('open', 'models', 'an object', args.models);
      const { image, text } = args.models;
      if (image != null) {
        checkSource('open', 'models.image.url', image.url);
        checkSource('open', 'models.image.whitening', image.whitening, true);
      }
      if (text != null) {
        checkSource('open', 'models.text.url', text.url);
        checkSource('open', 'models.text.tokenizerUrl', text.tokenizerUrl);
      }
    }
  },
  importCollection: ({ file }) => checkSource('importCollection', 'file', file),
  loadImageModel({ url, whitening }) {
    checkSource('loadImageModel', 'url', url);
    checkSource('loadImageModel', 'whitening', whitening, true);
  },
  loadTextModel({ url, tokenizerUrl }) {
    checkSource('loadTextModel', 'url', url);
    checkSource('loadTextModel', 'tokenizerUrl', tokenizerUrl);
  },
  loadClip({ files }) {
    for (const key of ['weights', 'config', 'vocab', 'merges']) checkSource('loadClip', `files.${key}`, files[key]);
  },
  embedImages(args) {
    checkArray('embedImages', 'images', args.images, (image, i) => checkImage('embedImages', `images[${i}]`, image));
    checkInteger('embedImages', 'batchSize', args.batchSize, 1, 256);
    if (args.whiten !== undefined && typeof args.whiten !== 'boolean') throw bad('embedImages', 'whiten', 'a boolean', args.whiten);
    return { ...args, batchSize: args.batchSize ?? 8, whiten: args.whiten ?? true };
  },
  fitImageWhitening(args) {
    checkArray('fitImageWhitening', 'images', args.images, (image, i) => checkImage('fitImageWhitening', `images[${i}]`, image));
    checkInteger('fitImageWhitening', 'batchSize', args.batchSize, 1, 256);
    return { ...args, batchSize: args.batchSize ?? 8 };
  },
  embedTexts(args) {
    checkStrings('embedTexts', 'texts', args.texts);
    checkInteger('embedTexts', 'batchSize', args.batchSize, 1, 1024);
    return { ...args, batchSize: args.batchSize ?? 32 };
  },
  add(args) {
    checkArray('add', 'items', args.items, (item, i) => {
      if (!isType(item, 'object')) throw bad('add', `items[${i}]`, 'an object', item);
      if (!isString(item.id)) throw bad('add', `items[${i}].id`, 'a string', item.id);
      if (item.vectors !== undefined) {
        if (!isType(item.vectors, 'object')) throw bad('add', `items[${i}].vectors`, 'an object', item.vectors);
        for (const [field, vector] of Object.entries(item.vectors)) {
          if (vector != null) checkVector('add', `items[${i}].vectors.${field}`, vector); // null: for the index to name
        }
      }
      if (item.image !== undefined) checkImage('add', `items[${i}].image`, item.image);
      if (item.text !== undefined && !isString(item.text)) throw bad('add', `items[${i}].text`, 'a string', item.text);
    });
    checkInteger('add', 'batchSize', args.batchSize, 1, 256);
    return { ...args, batchSize: args.batchSize ?? 16 };
  },
  delete({ ids }) {
    if (!isString(ids)) checkStrings('delete', 'ids', ids);
  },
  search({ query }) {
    const { vector, vectors, image, text, field } = query;
    if (vector !== undefined) checkVector('search', 'query.vector', vector);
    if (vectors !== undefined) {
      checkArray('search', 'query.vectors', vectors, (e, i) => {
        if (!isType(e, 'object')) throw bad('search', `query.vectors[${i}]`, 'an object', e);
        checkVector('search', `query.vectors[${i}].vector`, e.vector);
      });
    }
    if (image !== undefined) checkImage('search', 'query.image', image);
    if (text !== undefined && !isString(text)) throw bad('search', 'query.text', 'a string', text);
    if (field !== undefined && !isString(field)) throw bad('search', 'query.field', 'a string', field);
  },
  setEfSearch: ({ ef }) => checkInteger('setEfSearch', 'ef', ef, 0, 2 ** 32 - 1, false),
  learnField({ options }) {
    const { source, head, textHead } = options;
    if (source !== undefined && !isString(source)) throw bad('learnField', 'options.source', 'a string', source);
    if (!(head instanceof Uint8Array)) throw bad('learnField', 'options.head', 'a Uint8Array', head);
    if (textHead !== undefined && !(textHead instanceof Uint8Array)) throw bad('learnField', 'options.textHead', 'a Uint8Array', textHead);
  },
  trainHead({ options }) {
    for (const key of ['field', 'labelKey', 'output']) {
      if (!isString(options[key])) throw bad('trainHead', `options.${key}`, 'a string', options[key]);
    }
    if (options.backend !== undefined && !BACKENDS.includes(options.backend)) throw bad('trainHead', 'options.backend', `one of ${BACKENDS.join(', ')}`, options.backend);
    checkInteger('trainHead', 'options.stepsPerSlice', options.stepsPerSlice, 1, 1e6);
    if (options.training !== undefined && !isType(options.training, 'object')) throw bad('trainHead', 'options.training', 'an object', options.training);
  },
  evaluate: ({ queries }) => checkLabelled('evaluate', queries),
  calibrate({ queries }) {
    checkLabelled('calibrate', queries);
    if (queries.precision != null && typeof queries.precision !== 'number') throw bad('calibrate', 'queries.precision', 'a number', queries.precision);
  },
  match: ({ vector }) => checkVector('match', 'vector', vector),
};

/**
 * Call `method`'s arguments `args` checked (the table's types, then `shapes`), with defaults
 * filled in; throws a SimilError `input` naming the first bad one, or an unknown method.
 */
function checkCall(method, args) {
  if (method !== 'open' && !own(CALLS, method)) throw fail('input', `unknown method \`${typeof method === 'string' ? quote(method) : typeName(method)}\``);
  if (args === undefined) args = {};
  if (!isType(args, 'object')) throw fail('input', `${method}(): the arguments must be an object, got ${typeName(args)}`);
  checkDepth(method, args);
  if (method !== 'open') {
    const spec = CALLS[method];
    bindArgs(method, spec.params.map(([name]) => args[name]), fail);
    if (spec.on === 'Collection' && !isString(args.collection)) throw bad(method, 'collection', 'a string', args.collection);
  }
  return (own(shapes, method) && shapes[method](args)) || args;
}

/** Runs call `method` with named `args` on the module the table names. */
async function dispatch(method, args, context) {
  args = checkCall(method, args);
  if (method === 'open') return open(args);
  const spec = CALLS[method];
  if (!search) throw fail('state', 'simil is not open yet');
  const handler = own(handlers, method) ? handlers[method] : undefined;
  if (handler) return handler.call(context, args);
  const { collection, ...rest } = args;
  const params = spec.params.map(([name]) => rest[name]);
  return spec.on === 'Collection' ? search[spec.wasm](collection, ...params) : search[spec.wasm](...params);
}

let opened = false;
let defaults = null;
async function open({ backend: wanted, storage = 'auto', models, workers = DEFAULT_WORKERS }) {
  await ready;
  if (opened) throw fail('state', 'simil is open already');
  if (!BACKENDS.includes(wanted)) throw fail('input', `unknown backend \`${wanted}\`: expected "auto", "webgpu" or "cpu"`);
  if (!STORAGES.includes(storage)) throw fail('input', `unknown storage \`${storage}\`: expected ${STORAGES.map((s) => `"${s}"`).join(', ')}`);
  backend = wanted;
  pool = makePool(wanted, workers);
  defaults = models ?? null;
  if (storage !== 'memory') await restore(storage);
  opened = true;
  return { backend: null, storage: store?.kind ?? 'memory', restored: search.names(), damaged };
}

// ---- Persistence: every collection is written to the origin's storage after each batch of
// changes (pkg/store.js: OPFS, or IndexedDB), and read back by the next open(). ----

let store = null;
// A collection's changes are counted; it is unsaved while more changes were made than written.
const changes = new Map();
const written = new Map();
const unsaved = (name) => (changes.get(name) ?? 0) > (written.get(name) ?? 0);
const damaged = [];
let storageError = null;
let writes = Promise.resolve();

/** Opens the store and loads every collection in it; a file that does not load is kept as it is. */
async function restore(kind) {
  try {
    store = await openStore(kind);
  } catch (e) {
    throw fail('storage', `the origin's storage could not be opened: ${e?.message ?? e}`);
  }
  for (const name of await store.names()) {
    try {
      search.load(name, await store.read(name));
    } catch (e) {
      damaged.push({ name, message: e?.message ?? String(e) });
    }
  }
}

/** Marks collection `name` as changed: it is written when the worker is next idle. */
function changed(name) {
  if (!store) return;
  changes.set(name, (changes.get(name) ?? 0) + 1);
  scheduleFlush();
}

// Writes wait for the worker to be idle: a waiting call goes first, and a long call (an add of
// many images) has its batches written at most every WRITE_EVERY_MS while it runs, so that a
// crash loses little and the whole collection is not rewritten after every batch.
const WRITE_EVERY_MS = 5000;
let flushTimer = null;
let flushDeferred = false;
let running = false;
let lastWrite = 0;
function scheduleFlush() {
  if (flushTimer !== null || !store) return;
  flushTimer = setTimeout(() => {
    flushTimer = null;
    flushDeferred = waiting > 0 || (running && Date.now() - lastWrite < WRITE_EVERY_MS);
    if (!flushDeferred) flushNow();
  }, 0);
}

/** Writes every changed collection, one write at a time; resolves when all are written. */
function flushNow() {
  lastWrite = Date.now();
  writes = writes.then(async () => {
    for (const name of [...changes.keys()].filter(unsaved)) {
      const count = changes.get(name);
      let bytes;
      try {
        bytes = search.save(name);
      } catch {
        continue; // dropped since it changed
      }
      try {
        await store.write(name, bytes);
        written.set(name, count);
        storageError = null;
      } catch (e) {
        // The change stays in memory, and unsaved: the next write tries again.
        storageError = fail(e?.name === 'QuotaExceededError' ? 'quota' : 'storage', `collection \`${name}\` could not be saved: ${e?.message ?? e}`);
        console.warn('simil:', storageError.message);
      }
    }
  });
  return writes;
}

/** Removes collection `name` from the store, after any write of it already under way. */
function forget(name) {
  changes.delete(name);
  written.delete(name);
  if (!store) return Promise.resolve();
  writes = writes.then(() => store.remove(name));
  return writes;
}

// Calls run one after another so that a long call never interleaves with the next.
let queue = Promise.resolve();
let waiting = 0;

/** Runs `fn` in turn with the queued calls; resolves to its result. */
function exclusive(fn) {
  const result = queue.then(fn);
  queue = result.catch(() => {});
  return result;
}

// The ids of the calls posted and not yet answered: a cancel of any other id is ignored.
const live = new Set();

self.addEventListener('message', (event) => {
  const msg = event.data;
  if (!isType(msg, 'object')) return; // not a message of simil's
  if (msg.type === 'cancel') {
    if (live.has(msg.id)) cancelled.add(msg.id);
    return;
  }
  if (msg.type === 'lose-device') {
    // Destroys the model workers' WebGPU devices, as a driver reset would (tests of recovery;
    // WebGL's WEBGL_lose_context plays the same part): the pool then goes on on the CPU.
    pool.loseDevice().catch(() => {});
    return;
  }
  if (msg.type !== 'call') return;
  live.add(msg.id);
  if (own(background, msg.method)) {
    answer(msg, () => {
      const args = checkCall(msg.method, msg.args);
      if (!search) throw fail('state', 'simil is not open yet');
      return background[msg.method].call(context(msg.id), args);
    });
    return;
  }
  waiting++;
  exclusive(async () => {
    waiting--;
    if (cancelled.delete(msg.id)) {
      live.delete(msg.id);
      return;
    }
    running = true;
    await answer(msg, () => dispatch(msg.method, msg.args, context(msg.id)));
    running = false;
    scheduleUpkeep();
    if (flushDeferred) scheduleFlush();
  });
});

/** What a handler may ask of its call: progress, and whether it was cancelled. */
function context(id) {
  return {
    checkCancelled() {
      if (cancelled.has(id)) throw fail('aborted', 'the call was cancelled');
    },
    progress: (progress) => self.postMessage({ type: 'progress', id, progress }),
  };
}

/** Posts the result of `run()` for call `id` (typed arrays transferred) or its error. */
async function answer({ id }, run) {
  try {
    const value = await run();
    const transfer = ArrayBuffer.isView(value) ? [value.buffer] : [];
    self.postMessage({ type: 'result', id, value }, transfer);
  } catch (e) {
    self.postMessage({ type: 'error', id, error: describe(e) });
  } finally {
    cancelled.delete(id);
    live.delete(id);
  }
}

// Index upkeep runs in the builder worker (pkg/build-worker.js), one job at a time, while this
// worker goes on answering: this worker plans a job when idle (search.planUpkeep: rows copied
// out as bytes) and applies what comes back in turn with the calls, keeping the writes made
// meanwhile. A job builds a segment in one go (a collection's first graph, a bulk add as large
// as its graph, a rebuild without tombstones), or grows the largest graph by up to
// GROW_JOB_ROWS rows: the builder keeps a copy of that graph, inserts the rows as hnswlib adds
// them, and sends back only the links that changed, so applying a step costs a copy, not the
// insertions. Where the builder cannot run, segments are built here between calls, and graphs
// grow here (search.growStep) in steps of about GROW_STEP_MS, so that a search waits at most
// one step.
const GROW_JOB_ROWS = 1024;
const GROW_STEP_MS = 8;
let growRows = 4;
let upkeepTimer = null;
let building = false;
/** Whether graphs grow in the builder; not after jobs failed twice in a row there. */
let growElsewhere = true;
let failures = 0;
const growsElsewhere = () => builder !== false && growElsewhere;
function scheduleUpkeep() {
  if (upkeepTimer !== null || !search) return;
  upkeepTimer = setTimeout(() => {
    upkeepTimer = null;
    // The waiting call reschedules upkeep when done.
    if (waiting > 0) return;
    exclusive(() => {
      if (!building) {
        const job = search.planUpkeep(growsElsewhere() ? GROW_JOB_ROWS : 0);
        if (job !== undefined) buildJob(job);
        else if (growsElsewhere()) settled();
      }
      if (!growsElsewhere() && waiting === 0 && grow()) scheduleUpkeep();
    });
  }, 0);
}

/** Sends upkeep job `job` to the builder, and applies what it made in turn when done. */
function buildJob(job) {
  building = true;
  // A job that fails is dropped (applyUpkeep without bytes) and planned again (a growth step
  // that failed because the builder's graph copy was stale then sends the graph); after a
  // second failure in a row graphs grow here, and the next change plans again.
  build(job).then((built) => exclusive(() => {
    building = false;
    try {
      const applied = search.applyUpkeep(built);
      if (applied?.grew) grown.add(applied.collection);
      else if (applied) changed(applied.collection);
    } catch (e) {
      console.warn('simil: index upkeep failed', e);
    }
    failures = built === undefined ? failures + 1 : 0;
    if (failures >= 2) growElsewhere = false;
    if (failures <= 2) scheduleUpkeep();
    else settled();
  }));
}

/** Growth changes no item, so a saved copy stays right: the collections it changed are
 *  written once upkeep has settled, not after every step. */
const grown = new Set();
function settled() {
  grown.forEach(changed);
  grown.clear();
}

/** One growth step here of about GROW_STEP_MS (the row count adapts to the graph's speed);
 *  whether there was work. */
function grow() {
  const started = performance.now();
  const name = search.growStep(growRows);
  if (name === undefined) {
    settled();
    return false;
  }
  const ms = performance.now() - started;
  growRows = Math.max(1, Math.min(1024, Math.round(growRows * (ms > 0 ? Math.min(2, GROW_STEP_MS / ms) : 2))));
  grown.add(name);
  return true;
}

/** Whether `job` is a growth step (its bytes start with "SIGJ"), which only the builder runs. */
const isGrowth = (job) => job[0] === 0x53 && job[1] === 0x49 && job[2] === 0x47 && job[3] === 0x4a;

let builder = null;
/** The builder worker's wasm memory as of its last job (null before one): `memory().builder`. */
let builderMemory = null;
/** The built segment of upkeep job `job` (bytes), from the builder worker, else built here. */
async function build(job) {
  if (builder === null) {
    try {
      builder = new Worker(new URL('./build-worker.js', import.meta.url), { type: 'module', name: 'simil-builder' });
    } catch {
      builder = false;
    }
  }
  if (builder === false) return buildHere(job, 'it could not start');
  const worker = builder;
  return new Promise((resolve) => {
    const settle = (built) => {
      worker.removeEventListener('message', onMessage);
      worker.removeEventListener('error', onError);
      resolve(built);
    };
    const onMessage = ({ data }) => {
      builderMemory = data.memory ?? builderMemory;
      settle(data.built ?? buildHere(job, data.error));
    };
    // The builder is gone (its script did not load, or it crashed): upkeep runs here from now on.
    const onError = (event) => {
      event.preventDefault?.();
      worker.terminate();
      builder = false;
      settle(buildHere(job, event.message ?? 'it stopped'));
    };
    worker.addEventListener('message', onMessage);
    worker.addEventListener('error', onError);
    worker.postMessage({ id: 0, module: searchModule, job });
  });
}

/** Builds `job` in this worker, after the builder failed with `why`; undefined if that fails too
 *  (as a growth step does: the graph copy it was for is gone with the builder). */
function buildHere(job, why) {
  if (isGrowth(job)) {
    console.warn(`simil: the index builder could not grow a graph (${why})`);
    return undefined;
  }
  console.warn(`simil: the index builder failed (${why}); building here`);
  try {
    return search.runUpkeep(job);
  } catch (e) {
    console.warn('simil: index upkeep failed', e);
    return undefined;
  }
}
