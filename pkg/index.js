// simil: private, in-browser similarity search. This module runs on the main thread; all the
// work happens in a module Web Worker (./worker.js). Every public call is named once, in
// ./protocol.js; the methods of `Simil` and `Collection` below are built from that table.
import { BACKENDS, CALLS, STORAGES, bindArgs, compact } from './protocol.js';

/** Every failure of simil is a SimilError: `name` is "SimilError", `code` says the kind. */
export class SimilError extends Error {
  constructor(message, code = 'internal', options) {
    super(message, options);
    this.name = 'SimilError';
    this.code = code;
  }
}

/** A SimilError of `code` (the page's one error helper). */
function fail(code, message, options) {
  return new SimilError(message, code, options);
}

function toError(e) {
  if (e instanceof Error) return e;
  if (e?.name === 'AbortError') return new DOMException(e.message, 'AbortError');
  return fail(e?.code ?? 'internal', e?.message ?? String(e));
}

/** Talks to the worker: numbered calls, each settled by one reply. */
class Channel {
  constructor(worker, onState) {
    this.worker = worker;
    this.next = 1;
    this.pending = new Map();
    this.failure = null;
    worker.addEventListener('message', (event) => this.#onMessage(event.data, onState));
    worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      const detail = event.message ? `: ${event.message}` : '';
      this.#fail(fail('worker', `simil's worker could not start${detail} (is pkg/worker.js served, with pkg/wasm/ beside it?)`));
    });
    worker.addEventListener('messageerror', () => this.#fail(fail('worker', "a message from simil's worker could not be read")));
  }

  #fail(error) {
    this.failure = error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  #onMessage(msg, onState) {
    if (msg.type === 'fatal') return this.#fail(toError(msg.error));
    if (msg.type === 'state') return onState(msg);
    const call = this.pending.get(msg.id);
    if (!call) return;
    if (msg.type === 'progress') return call.onProgress?.(msg.progress);
    this.pending.delete(msg.id);
    call.cleanup?.();
    if (msg.type === 'result') call.resolve(msg.value);
    else call.reject(toError(msg.error));
  }

  /** Posts call `method` with named `args`; `signal` cancels it, `onProgress` hears progress. */
  call(method, args, { signal, onProgress } = {}) {
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
      try {
        this.worker.postMessage({ type: 'call', id, method, args: compact(args) });
      } catch (e) {
        this.pending.delete(id);
        reject(fail('input', `${method}(): an argument cannot be sent to the worker (${e.message})`));
      }
    });
  }
}

// ---- One place for file locations ----

// The default models' files, which the npm package ships. Each is named by a literal
// `new URL('./…', import.meta.url)` so that a bundler (Vite, webpack 5, Parcel) copies it into
// the build beside the code and rewrites the URL; the other files (f32, InceptionV3) load from
// the weights folder, which a bundler does not copy (host them and pass `weightsUrl`).
const SHIPPED = {
  'mobilenet_v2.int8.safetensors': () => new URL('./weights/mobilenet_v2.int8.safetensors', import.meta.url),
  'mobilenet_v2.whitening.safetensors': () => new URL('./weights/mobilenet_v2.whitening.safetensors', import.meta.url),
  'minilm.int8.safetensors': () => new URL('./weights/minilm.int8.safetensors', import.meta.url),
  'minilm.tokenizer.json': () => new URL('./weights/minilm.tokenizer.json', import.meta.url),
};

/** Where files come from: the model weights folder (default: ./weights/ beside this module). */
function locations(weightsUrl) {
  const page = globalThis.location?.href;
  const folder = new URL(weightsUrl ?? './weights/', weightsUrl ? page : import.meta.url).href;
  /** `name` in the weights folder: a shipped file where no `weightsUrl` was given. */
  const named = (name) => (weightsUrl == null && SHIPPED[name] ? SHIPPED[name]() : new URL(name, folder)).href;
  return {
    /** A user-given URL (resolved against the page), or `name` in the weights folder. */
    file: (given, name) => (given !== undefined ? new URL(given, page).href : named(name)),
    /** A user-given URL resolved against the page, or the bytes as they are. */
    source: (given) => (typeof given === 'string' || given instanceof URL ? new URL(given, page).href : given),
  };
}

function oneOf(what, value, allowed) {
  if (!allowed.includes(value)) throw fail('input', `unknown ${what} \`${value}\`: expected ${allowed.map((a) => `"${a}"`).join(' or ')}`);
}

function checkBatch(batchSize, max) {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > max) {
    throw fail('input', `batchSize must be an integer in 1..=${max}, got ${batchSize}`);
  }
}

/** One Float32Array per input, views of the flat n × dim result. */
function rows(flat, n) {
  const dim = n ? flat.length / n : 0;
  return Array.from({ length: n }, (_, i) => flat.subarray(i * dim, (i + 1) * dim));
}

// ---- What the page adds to a call: argument shapes before posting, results after ----
// `prepare(args, simil)` turns the checked arguments into the worker's; `finish(value, args,
// simil)` turns the worker's answer into what the caller gets. Calls without an entry pass their
// arguments and answer through.

const pageSide = {
  createCollection: { finish: (value, args, simil) => new Collection(simil, value.name) },
  loadCollection: { finish: (value, args, simil) => new Collection(simil, value.name) },
  collection: { finish: (value, args, simil) => new Collection(simil, value.name) },
  importCollection: {
    // A URL (string or URL) is resolved against the page here: the worker takes absolute ones.
    prepare: ({ name, file }, simil) => ({ name, file: simil.files.source(file) }),
    finish: (value, args, simil) => new Collection(simil, value.name),
  },
  export: { finish: (bytes) => new Blob([bytes], { type: 'application/octet-stream' }) },
  storage: {
    // `persist()` is the page's to ask (browsers expose it to windows only).
    async prepare({ options: { persist = false } = {} }) {
      if (persist) await globalThis.navigator?.storage?.persist?.();
      return {};
    },
  },
  loadImageModel: {
    prepare({ options: { model = 'mobilenet_v2', weights = 'int8', url, whitening = model === 'mobilenet_v2' } = {} }, simil) {
      if (url === undefined) {
        oneOf('weights', weights, ['int8', 'f32']);
        oneOf('model', model, ['mobilenet_v2', 'inception_v3']);
      }
      if (whitening === true && model !== 'mobilenet_v2') throw fail('input', `no whitening ships for ${model}: learn one with fitImageWhitening()`);
      const white = whitening === true ? simil.files.file(undefined, 'mobilenet_v2.whitening.safetensors')
        : whitening === false || whitening == null ? null : simil.files.source(whitening);
      if (white !== null && typeof white !== 'string' && !(white instanceof Uint8Array)) {
        throw fail('input', 'whitening must be true, false, a URL or the bytes fitImageWhitening returned');
      }
      return { url: simil.files.file(url, `${model}.${weights}.safetensors`), whitening: white };
    },
  },
  loadTextModel: {
    prepare({ options: { weights = 'int8', url, tokenizerUrl } = {} }, simil) {
      if (url === undefined) oneOf('weights', weights, ['int8', 'f32']);
      return { url: simil.files.file(url, `minilm.${weights}.safetensors`), tokenizerUrl: simil.files.file(tokenizerUrl, 'minilm.tokenizer.json') };
    },
  },
  loadClip: {
    prepare({ files: given }, simil) {
      const files = {};
      for (const key of ['weights', 'config', 'vocab', 'merges']) {
        const source = simil.files.source(given[key]);
        if (!(typeof source === 'string' || source instanceof Uint8Array || source instanceof ArrayBuffer || (typeof Blob !== 'undefined' && source instanceof Blob))) {
          throw fail('input', `loadClip() needs \`${key}\`: a URL or the file (File, Blob, ArrayBuffer, Uint8Array)`);
        }
        files[key] = source;
      }
      return { files };
    },
  },
  embedImages: {
    prepare({ images, options: { batchSize = 8, whiten = true } = {} }) {
      checkBatch(batchSize, 256);
      return { images, batchSize, whiten: whiten !== false };
    },
    finish: (flat, { images }) => rows(flat, images.length),
  },
  embedTexts: {
    prepare({ texts, options: { batchSize = 32 } = {} }) {
      if (!texts.every((t) => typeof t === 'string')) throw fail('input', 'embedTexts(): `texts` must be an array of strings');
      checkBatch(batchSize, 1024);
      return { texts, batchSize };
    },
    finish: (flat, { texts }) => rows(flat, texts.length),
  },
  fitImageWhitening: {
    prepare({ images, options: { batchSize = 8 } = {} }) {
      checkBatch(batchSize, 256);
      if (images.length < 2) throw fail('input', 'fitImageWhitening() needs at least 2 images');
      return { images, batchSize };
    },
  },
  add: {
    prepare({ items, options: { batchSize = 16 } = {} }) {
      checkBatch(batchSize, 256);
      return { items, batchSize };
    },
  },
  search: { finish: ({ hits, via }) => Object.assign(hits, { via }) },
  trainHead: {
    prepare({ options: { field, labelKey, output, backend, stepsPerSlice, dim, ...training } }) {
      if (typeof field !== 'string' || typeof labelKey !== 'string' || typeof output !== 'string') {
        throw fail('input', 'trainHead() needs `field`, `labelKey` and `output` names');
      }
      if (dim !== undefined) training.output = dim; // the trainer's name for the embedding width
      return { options: { field, labelKey, output, backend, stepsPerSlice, training } };
    },
  },
};

/** The method of call `method` for its class: checks, posts, and finishes the answer. */
function method(name) {
  const spec = CALLS[name];
  const side = pageSide[name] ?? {};
  return async function (...values) {
    const simil = this instanceof Collection ? this.simil : this;
    const args = bindArgs(name, values, fail);
    const last = spec.params.at(-1)?.[0];
    const { signal, onProgress, ...rest } = spec.long ? (args[last] ?? {}) : {};
    if (spec.long && args[last]) args[last] = rest;
    const posted = side.prepare ? await side.prepare(args, simil) : args;
    if (this instanceof Collection) posted.collection = this.name;
    const value = await simil.channel.call(name, posted, { signal, onProgress });
    return side.finish ? side.finish(value, args, simil) : value;
  };
}

/** A named collection of items with vector fields, living in the worker. */
export class Collection {
  /** @internal */
  constructor(simil, name) {
    this.simil = simil;
    /** The collection's name. */
    this.name = name;
  }
}

/** An open simil engine: one worker, named collections, models loaded on first use. */
export class Simil {
  /** @internal */
  constructor(worker, weightsUrl) {
    this.worker = worker;
    this.channel = new Channel(worker, ({ backend, reason }) => {
      this.backend = backend;
      this.backendReason = reason;
    });
    this.files = locations(weightsUrl);
    /** The device the models run on, "webgpu" or "cpu", once the model module has opened; null before. */
    this.backend = null;
    /** Why that device: asked for, or what `auto` measured. */
    this.backendReason = null;
  }

  /** Stops the worker; simil cannot be used afterwards. */
  terminate() {
    this.worker.terminate();
  }
}

for (const [name, spec] of Object.entries(CALLS)) {
  const target = spec.on === 'Simil' ? Simil : Collection;
  Object.defineProperty(target.prototype, name, { value: method(name), writable: true, configurable: true });
}

/**
 * Opens simil in a new module worker: only the search module loads now; the model module comes
 * with the first model call (on `backend`), the trainer with the first `trainHead`.
 * Models run in a pool of `workers` model workers (default: one a core, at most 4; one on WebGPU).
 * @param {{ backend?: 'auto'|'webgpu'|'cpu', storage?: 'auto'|'opfs'|'indexeddb'|'memory', workers?: number, workerUrl?: string|URL, weightsUrl?: string|URL, signal?: AbortSignal }} options
 */
export async function open({ backend = 'auto', storage = 'auto', workers, workerUrl, weightsUrl, signal } = {}) {
  oneOf('backend', backend, BACKENDS);
  oneOf('storage', storage, STORAGES);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1 || workers > 16)) {
    throw fail('input', `workers must be an integer in 1..=16, got ${workers}`);
  }
  let worker;
  try {
    // The literal `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })` is
    // the form bundlers recognise: they bundle the worker (and the wasm it imports) for it.
    worker = workerUrl !== undefined ? new Worker(workerUrl, { type: 'module', name: 'simil' })
      : new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'simil' });
  } catch (e) {
    throw fail('worker', `simil's worker could not be created: ${e.message}`, { cause: e });
  }
  const simil = new Simil(worker, weightsUrl);
  try {
    // The models a bound field loads by itself when none is loaded: the defaults, from weightsUrl.
    const models = {
      image: pageSide.loadImageModel.prepare({}, simil),
      text: pageSide.loadTextModel.prepare({}, simil),
    };
    const opened = await simil.channel.call('open', { backend, storage, models, ...(workers === undefined ? {} : { workers }) }, { signal });
    /** Where collections persist: "opfs", "indexeddb" or "memory". */
    simil.storageKind = opened.storage;
    return simil;
  } catch (e) {
    worker.terminate();
    throw e;
  }
}
