// The protocol between the page (index.js) and the worker (worker.js), once: every public call,
// the class it is a method of, its parameters (name and JS type, checked on the page before
// anything is posted), the wasm module that serves it, whether it is long (takes `onProgress`
// and `signal` in its last, options argument) and what it resolves to. index.js builds the
// methods of `Simil` and `Collection` from this table; worker.js dispatches by it; a test holds
// index.d.ts to it (tests/browser/protocol.test.mjs).
//
// Types: 'string', 'number', 'integer', 'boolean', 'object', 'array', 'bytes' (Uint8Array),
// 'vector' (number[] or a typed array), 'any'; a trailing '?' makes the argument optional.
// `module`: 'search' (loaded by every page), 'model' (fetched on the first model call),
// 'trainer' (fetched on the first trainHead). A long call's `onProgress` and `signal` ride in its
// last argument.
// A `search` call with `wasm` is passed through as `SearchEngine[wasm](collection, ...params)`.
// `returns` is the type index.d.ts declares the method to resolve to (the test holds them equal).
// Transfers: arguments are copied (a caller's buffers stay usable); a typed-array result
// (`save`, `fitImageWhitening`, the embeddings) is transferred back, never copied.

/** @type {Record<string, { on: 'Simil' | 'Collection', params: [string, string][], module: string, long?: boolean, wasm?: string, returns: string }>} */
export const CALLS = {
  // ---- Simil: collections ----
  createCollection: { on: 'Simil', params: [['name', 'string'], ['config', 'object']], module: 'search', returns: 'Collection' },
  loadCollection: { on: 'Simil', params: [['name', 'string'], ['bytes', 'bytes']], module: 'search', returns: 'Collection' },
  collection: { on: 'Simil', params: [['name', 'string'], ['config', 'object?']], module: 'search', returns: 'Collection' },
  listCollections: { on: 'Simil', params: [], module: 'search', wasm: 'names', returns: 'string[]' },
  deleteCollection: { on: 'Simil', params: [['name', 'string']], module: 'search', returns: 'boolean' },
  importCollection: { on: 'Simil', params: [['name', 'string'], ['file', 'any']], module: 'search', returns: 'Collection' },
  // ---- Simil: storage ----
  storage: { on: 'Simil', params: [['options', 'object?']], module: 'search', returns: 'StorageInfo' },
  flush: { on: 'Simil', params: [], module: 'search', returns: 'void' },
  memory: { on: 'Simil', params: [], module: 'search', returns: 'MemoryUse' },
  // ---- Simil: models ----
  loadImageModel: { on: 'Simil', params: [['options', 'object?']], module: 'model', long: true, returns: 'ImageModelInfo' },
  loadTextModel: { on: 'Simil', params: [['options', 'object?']], module: 'model', long: true, returns: 'TextModelInfo' },
  loadClip: { on: 'Simil', params: [['files', 'object']], module: 'model', long: true, returns: 'ClipInfo' },
  models: { on: 'Simil', params: [], module: 'model', returns: 'LoadedModels' },
  embedImages: { on: 'Simil', params: [['images', 'array'], ['options', 'object?']], module: 'model', long: true, returns: 'Float32Array[]' },
  embedTexts: { on: 'Simil', params: [['texts', 'array'], ['options', 'object?']], module: 'model', long: true, returns: 'Float32Array[]' },
  fitImageWhitening: { on: 'Simil', params: [['images', 'array'], ['options', 'object?']], module: 'model', long: true, returns: 'Uint8Array' },
  // ---- Collection ----
  add: { on: 'Collection', params: [['items', 'array'], ['options', 'object?']], module: 'search', long: true, returns: 'number' },
  delete: { on: 'Collection', params: [['ids', 'any']], module: 'search', returns: 'number' },
  search: { on: 'Collection', params: [['query', 'object']], module: 'search', returns: 'Hits' },
  get: { on: 'Collection', params: [['id', 'string']], module: 'search', wasm: 'get', returns: 'Item | null' },
  count: { on: 'Collection', params: [], module: 'search', returns: 'number' },
  config: { on: 'Collection', params: [], module: 'search', wasm: 'config', returns: 'Required<CollectionConfig>' },
  stats: { on: 'Collection', params: [], module: 'search', wasm: 'stats', returns: 'CollectionStats' },
  save: { on: 'Collection', params: [], module: 'search', wasm: 'save', returns: 'Uint8Array' },
  export: { on: 'Collection', params: [], module: 'search', wasm: 'save', returns: 'Blob' },
  setEfSearch: { on: 'Collection', params: [['ef', 'integer']], module: 'search', wasm: 'setEfSearch', returns: 'void' },
  learnedFields: { on: 'Collection', params: [], module: 'search', wasm: 'learnedFields', returns: 'LearnedField[]' },
  learnField: { on: 'Collection', params: [['output', 'string'], ['options', 'object']], module: 'search', returns: 'LearnedField[]' },
  trainHead: { on: 'Collection', params: [['options', 'object']], module: 'trainer', long: true, returns: 'TrainHeadResult' },
  evaluate: { on: 'Collection', params: [['queries', 'object']], module: 'search', returns: 'Evaluation' },
  calibrate: { on: 'Collection', params: [['queries', 'object']], module: 'search', returns: 'Calibration' },
  match: { on: 'Collection', params: [['vector', 'vector'], ['options', 'object']], module: 'search', returns: 'Match' },
};

/** The backends `open()` takes. */
export const BACKENDS = ['auto', 'webgpu', 'cpu'];

/** Where `open()` keeps collections: "auto" (OPFS, else IndexedDB), one of them, or "memory" (not kept). */
export const STORAGES = ['auto', 'opfs', 'indexeddb', 'memory'];

/**
 * A SimilError as a plain object, as the workers (simil's, the model workers) and cache.js raise
 * it and post it; index.js turns it back into a SimilError (an AbortError for `aborted`).
 */
export function fail(code, message) {
  return { name: code === 'aborted' ? 'AbortError' : 'SimilError', code, message };
}

/** Any thrown value as that plain object, to post across a worker boundary. */
export function describe(e) {
  return { name: e?.name ?? 'Error', code: e?.code ?? 'internal', message: e?.message ?? String(e) };
}

/** Whether `value` is of protocol type `type` (without the optional mark). */
export function isType(value, type) {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'number': return typeof value === 'number' && !Number.isNaN(value);
    case 'integer': return Number.isInteger(value);
    case 'boolean': return typeof value === 'boolean';
    case 'object': return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array': return Array.isArray(value);
    case 'bytes': return value instanceof Uint8Array;
    case 'vector': return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
    default: return true;
  }
}

/**
 * The named arguments of call `method` from the values a caller passed, each checked against
 * its type; throws `fail('input', …)` naming the first bad one.
 */
export function bindArgs(method, values, fail) {
  const args = {};
  CALLS[method].params.forEach(([name, type], i) => {
    const optional = type.endsWith('?');
    const value = values[i];
    if (value === undefined && optional) return;
    if (!isType(value, type.replace('?', ''))) {
      const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
      throw fail('input', `${method}(): \`${name}\` must be ${describeType(type)}, got ${got}`);
    }
    args[name] = value;
  });
  return args;
}

/**
 * `value` as it is posted: every typed array that views part of a larger buffer (a row of
 * `embedImages`' result, a query cut from a matrix with `subarray`) copied into a buffer of its
 * own, through arrays and plain objects. Structured clone copies a view's whole buffer, so a
 * 1.5 KB query vector viewing a 150 MB matrix would otherwise copy 150 MB on every search.
 */
export function compact(value) {
  if (ArrayBuffer.isView(value)) {
    return value instanceof DataView || value.byteLength === value.buffer.byteLength ? value : value.slice();
  }
  if (Array.isArray(value)) return value.map(compact);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out = {};
    for (const [key, inner] of Object.entries(value)) out[key] = compact(inner);
    return out;
  }
  return value;
}

function describeType(type) {
  const names = { string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean', object: 'an object', array: 'an array', bytes: 'a Uint8Array', vector: 'an array of numbers or a typed array' };
  return names[type.replace('?', '')] ?? type;
}
