// The worker-protocol fuzzer (issue 17), a browser module: random messages posted straight to
// pkg/worker.js (not through index.js): method names from pkg/protocol.js's table and junk,
// arguments of random types (numbers, strings, null, arrays, objects, typed arrays, Blobs,
// BigInts, huge values, NaN, deep nesting). Every call must be answered, within a timeout, by a
// result or by a SimilError whose code is in SimilErrorCode and not `internal`; the worker must
// never post `fatal` nor die; and after every `every` random messages a fixed valid sequence
// (create, add, search, get, save, load, delete) must answer exactly as it did on the fresh
// engine. Run by tests/browser/protocol-fuzz.test.mjs (a seeded, bounded run, plus a replay of
// the kept cases) and bench/fuzz-protocol.mjs (≥ 10⁶ messages).
//
// A message is generated as a description (JSON with tagged values, `{ $: kind, … }`), which is
// what a failing case keeps, and made into real values only to be posted.
import { CALLS } from '/pkg/protocol.js';

/** The codes of SimilErrorCode (pkg/index.d.ts); the fuzz test holds the two equal. */
export const CODES = ['input', 'state', 'index', 'collection', 'model', 'compute', 'train', 'worker', 'wasm', 'storage', 'quota', 'aborted', 'internal'];

/** A small, fast, seeded generator (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (list) => list[int(list.length)], chance: (p) => next() < p };
}

const METHODS = ['open', ...Object.keys(CALLS)];
const JUNK_METHODS = ['', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'then', 'fatal', 'call', 'Add', 'search ', 'names', 'maintainStep', 'trainingRows', 'free', 'dropCollection'];
const NAMES = ['a', 'b', 'm', 'nope', '', 'ü', '__proto__', 'x'.repeat(300)];
const KEYS = ['id', 'vectors', 'vector', 'v', 'w', 't', 'i', 'k', 'field', 'filter', 'text', 'image', 'payload', 'labelKey', 'label', 'fields', 'dim', 'metric', 'name', 'embed', 'textFields', 'weight', 'exact', 'minScore', 'numCandidates', 'source', 'head', 'url', 'whitening', 'batchSize', 'ef', 'precision', 'labels', 'output', 'training', 'backend', 'storage', 'models', 'ids', 'items', 'query', 'config', 'collection', 'texts', 'images', 'files', 'options', 'bytes', 'queries', 'eq', 'in', 'and', 'or', 'not', 'range', 'gte', 'lt', 'hnsw', 'sealThreshold', '__proto__', 'constructor'];
const NUMBERS = [0, -0, 1, -1, 2, 3, 4, 0.5, -1.5, 10, 10000, 10001, 4096, 4097, 2 ** 31, 2 ** 32, 2 ** 32 + 5, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324, NaN, Infinity, -Infinity];
const STRINGS = ['', 'a', 'v', 'w', 't', 'i', 'name', 'label', 'cosine', 'l2', 'dot', 'ip', 'image', 'text', 'cpu', 'webgpu', 'auto', 'memory', 'opfs', '\u0000', '\ud800', '😀', 'é', '../../etc/passwd', 'http://example.invalid/x', '/pkg/weights/none.safetensors', '{"a":1}', 'SIML'];
const TYPED = ['Float32Array', 'Float64Array', 'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Int32Array', 'Uint32Array', 'Uint16Array', 'BigInt64Array', 'BigUint64Array'];
const METRICS = ['cosine', 'l2', 'dot', 'manhattan'];

/** A random value's description; `depth` bounds ordinary nesting (deep nesting is its own kind). */
function anyValue(r, depth = 0) {
  switch (r.int(depth > 3 ? 8 : 14)) {
    case 0: return r.pick(NUMBERS);
    case 1: return r.int(2000) - 1000;
    case 2: return r.chance(0.8) ? r.pick(STRINGS) : { $: 'url', path: r.pick(['/pkg/weights/mobilenet_v2.whitening.safetensors', '/pkg/weights/minilm.tokenizer.json', '/pkg/worker.js', '/nowhere', '/tests/browser/blank.html']) };
    case 3: return r.pick([null, true, false, { $: 'undefined' }]);
    case 4: return r.pick([NaN, Infinity, -Infinity, -0]);
    case 5: return { $: 'typed', type: r.pick(TYPED), n: r.pick([0, 1, 2, 3, 4, 8, 384, 1000]), seed: r.int(1e9) };
    case 6: return { $: 'bigint', v: String(r.int(1e6) - 5e5) };
    case 7: return randomString(r);
    case 8: return Array.from({ length: r.int(5) }, () => anyValue(r, depth + 1));
    case 9: return Object.fromEntries(Array.from({ length: r.int(5) }, () => [r.pick(KEYS), anyValue(r, depth + 1)]));
    case 10: return r.pick([{ $: 'blob', n: r.int(64), seed: r.int(1e9) }, { $: 'buffer', n: r.int(64), seed: r.int(1e9) }, { $: 'date' }, { $: 'map' }, { $: 'set' }, { $: 'regexp' }]);
    case 11: return r.chance(0.1)
      ? { $: 'huge', kind: r.pick(['string', 'array', 'f32', 'u8']), n: r.pick([1e5, 1e6]) }
      : r.pick([{ $: 'sparse', n: r.pick([2 ** 32 - 1, 2 ** 31]) }, { $: 'deep', kind: r.pick(['array', 'object']), n: r.pick([65, 200, 1000, 5000]) }]);
    case 12: return r.chance(0.5) ? { $: 'image', which: r.int(IMAGES.length), as: r.pick(['bytes', 'blob', 'buffer']) } : r.chance(0.3) ? { $: 'imagedata', width: r.pick([1, 2, 7]), height: r.pick([1, 3]) } : { $: 'pixels', width: r.pick([0, 1, 2, 3, -1, 1.5, 1e5]), height: r.pick([0, 1, 2, 4, 1e5]), n: r.pick([0, 4, 8, 16, 32]) };
    default: return Array.from({ length: r.pick([1, 2, 3, 4, 5]) }, () => r.pick([r.next() * 2 - 1, r.pick(NUMBERS)]));
  }
}

function randomString(r) {
  const n = r.int(40);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.chance(0.8) ? 32 + r.int(95) : r.int(0x10000));
  return s;
}

const vec = (r, n = 4) => Array.from({ length: n }, () => Math.round((r.next() * 2 - 1) * 1000) / 1000);

/** A value of protocol type `type` that is often plausible, sometimes anything. */
function typed(r, name, type) {
  if (r.chance(0.35)) return anyValue(r);
  switch (type.replace('?', '')) {
    case 'string': return r.pick([...NAMES, ...STRINGS]);
    case 'integer': return r.pick([r.int(20), r.int(5000) - 10, r.pick(NUMBERS)]);
    case 'number': return r.pick([r.next(), r.pick(NUMBERS)]);
    case 'bytes': return r.chance(0.5) ? { $: 'collection', seed: r.int(1e9), flips: r.int(4) } : { $: 'typed', type: 'Uint8Array', n: r.int(200), seed: r.int(1e9) };
    case 'vector': return r.chance(0.5) ? vec(r, r.pick([4, 4, 2, 3, 0])) : { $: 'typed', type: r.pick(['Float32Array', 'Float64Array', 'Int8Array']), n: r.pick([4, 2, 0]), seed: r.int(1e9) };
    case 'array': return plausibleArray(r, name);
    case 'object': return plausibleObject(r, name);
    default: return anyValue(r);
  }
}

function plausibleArray(r, name) {
  const n = r.pick([0, 1, 2, 3, 5]);
  const each = {
    items: () => ({ id: r.pick(['x', 'y', 'z', String(r.int(50)), r.pick(STRINGS)]), vectors: r.chance(0.7) ? { [r.pick(['v', 'w', 't', 'i'])]: r.chance(0.8) ? vec(r, r.pick([4, 4, 2])) : anyValue(r, 2) } : anyValue(r, 2), ...(r.chance(0.5) ? { payload: { name: r.pick(['alpha', 'beta', 'gamma']), label: r.int(3), n: r.int(10) } } : {}), ...(r.chance(0.1) ? { text: r.pick(STRINGS) } : {}), ...(r.chance(0.05) ? { image: anyValue(r, 2) } : {}) }),
    texts: () => r.pick([...STRINGS, randomString(r)]),
    images: () => anyValue(r, 2),
    ids: () => r.pick(['x', 'y', String(r.int(50))]),
  }[name] ?? (() => anyValue(r, 2));
  return Array.from({ length: n }, each);
}

function plausibleObject(r, name) {
  switch (name) {
    case 'config': return {
      fields: Array.from({ length: r.pick([0, 1, 2]) }, (_, i) => ({ name: r.pick(['v', 'w', 't', 'i', '']) + (i || ''), dim: r.pick([4, 2, 1, 0, 4097, undefined]) ?? { $: 'undefined' }, metric: r.pick(METRICS) })),
      ...(r.chance(0.3) ? { textFields: [r.pick(['name', 'label'])] } : {}),
      ...(r.chance(0.1) ? { embed: { [r.pick(['v', 't', 'i'])]: r.pick(['text', 'image', 'audio']) } } : {}),
    };
    case 'query': return {
      ...(r.chance(0.6) ? { vector: typed(r, 'vector', 'vector') } : {}),
      ...(r.chance(0.2) ? { text: r.pick(['alpha', 'beta', '', randomString(r)]) } : {}),
      ...(r.chance(0.2) ? { field: r.pick(['v', 'w', 'nope']) } : {}),
      ...(r.chance(0.2) ? { filter: r.pick([{ eq: { field: 'name', value: 'alpha' } }, { range: { field: r.pick(['n', 'nope']), gte: r.pick([1, NaN, 'a']) } }, { in: { field: 'label', values: [0, 1] } }, { and: [{ exists: { field: 'n' } }, { not: { eq: { field: 'x', value: null } } }] }, { name: 'alpha' }, anyValue(r, 2)]) } : {}),
      ...(r.chance(0.1) ? { vectors: [{ field: 'v', vector: vec(r), weight: r.next() }] } : {}),
      ...(r.chance(0.05) ? { image: anyValue(r, 2) } : {}),
      k: r.pick([1, 3, 10, 0, -1, 10001, 1e9, NaN]),
      ...(r.chance(0.2) ? { exact: r.chance(0.5) } : {}),
    };
    case 'queries': return { labelKey: r.pick(['label', 'name', 'nope']), vectors: [vec(r), vec(r)], labels: [r.int(3), r.int(3)], ...(r.chance(0.3) ? { k: r.pick([1, 5, 0, -1, 1.5]) } : {}), ...(r.chance(0.3) ? { precision: r.pick([0.5, 0, 2, NaN]) } : {}) };
    case 'options': return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(['field', 'labelKey', 'minScore', 'source', 'head', 'output', 'batchSize', 'stepsPerSlice', 'backend', 'training', 'weights', 'model', 'url']), r.chance(0.5) ? r.pick(['v', 'label', 'out', 0.5, 1, 'cpu']) : anyValue(r, 2)]));
    default: return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(KEYS), anyValue(r, 2)]));
  }
}

/** The description of random message `index` of run `seed` (each message has its own stream). */
export function message(seed, index) {
  return tagNumbers(randomMessage(seed, index));
}

function randomMessage(seed, index) {
  const r = rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0);
  const shape = r.int(100);
  if (shape < 2) return { post: anyValue(r) }; // not a message of simil's: ignored, unanswered
  if (shape < 4) return { post: { type: 'cancel', id: anyValue(r) } };
  if (shape < 5) return { post: { type: r.pick(['result', 'fatal', 'state', 'progress', anyValue(r)]), id: r.int(10) } };
  const method = r.chance(0.9) ? r.pick(METHODS) : r.pick([...JUNK_METHODS, anyValue(r)]);
  let args;
  if (r.chance(0.08)) args = anyValue(r);
  else {
    args = {};
    const params = method === 'open' ? [['backend', 'string'], ['storage', 'string?'], ['models', 'object?']] : CALLS[method]?.params ?? [['name', 'string'], ['items', 'array']];
    for (const [name, type] of params) if (r.chance(0.9)) args[name] = typed(r, name, type);
    if (CALLS[method]?.on === 'Collection' || r.chance(0.1)) args.collection = r.chance(0.85) ? r.pick(['a', 'a', 'b', 'm', 'nope']) : anyValue(r);
    for (let extra = r.int(3); extra > 0; extra--) args[r.pick(KEYS)] = r.chance(0.5) ? typed(r, 'x', r.pick(['integer', 'string', 'bytes'])) : anyValue(r, 1);
  }
  return { post: { type: 'call', method, args } };
}

/** `d` with every number JSON cannot hold (NaN, ±∞, -0) tagged, so a kept case is plain JSON. */
function tagNumbers(d) {
  if (typeof d === 'number') return Number.isFinite(d) && !Object.is(d, -0) ? d : { $: 'num', v: Object.is(d, -0) ? '-0' : String(d) };
  if (Array.isArray(d)) return d.map(tagNumbers);
  if (d === null || typeof d !== 'object') return d;
  const out = {};
  for (const [k, v] of Object.entries(d)) {
    if (k === '__proto__') Object.defineProperty(out, k, { value: tagNumbers(v), enumerable: true, configurable: true, writable: true });
    else out[k] = tagNumbers(v);
  }
  return out;
}

// ---- Descriptions into values ----

function fill(seed) {
  const r = rng(seed);
  return () => r.next();
}

let savedCollection = null; // a valid collection file, mutated by `{ $: 'collection' }`
/** Encoded images: a small PNG, the same cut in half, and one whose header declares 10⁵ × 10⁵ pixels. */
const IMAGES = [];

async function makeImages() {
  const canvas = new OffscreenCanvas(8, 6);
  const context = canvas.getContext('2d');
  context.fillStyle = '#c33';
  context.fillRect(0, 0, 8, 6);
  context.fillStyle = '#3c3';
  context.fillRect(2, 2, 3, 3);
  const png = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
  const giant = png.slice();
  new DataView(giant.buffer).setUint32(16, 100000);
  new DataView(giant.buffer).setUint32(20, 100000);
  IMAGES.push(png, png.slice(0, png.length >> 1), giant);
}

/** The real value of description `d`. */
export function materialize(d) {
  if (Array.isArray(d)) return d.map(materialize);
  if (d === null || typeof d !== 'object') return d;
  if (d.$ === undefined) {
    const out = {};
    for (const [k, v] of Object.entries(d)) {
      if (k === '__proto__') Object.defineProperty(out, k, { value: materialize(v), enumerable: true, configurable: true, writable: true });
      else out[k] = materialize(v);
    }
    return out;
  }
  const random = fill(d.seed ?? 1);
  switch (d.$) {
    case 'undefined': return undefined;
    case 'num': return Number(d.v);
    case 'bigint': return BigInt(d.v);
    case 'typed': {
      const Type = globalThis[d.type];
      const out = new Type(d.n);
      for (let i = 0; i < d.n; i++) {
        const x = (random() * 2 - 1) * 200;
        out[i] = Type === BigInt64Array || Type === BigUint64Array ? BigInt(Math.abs(Math.trunc(x))) : x;
      }
      return out;
    }
    case 'blob': return new Blob([materialize({ $: 'typed', type: 'Uint8Array', n: d.n, seed: d.seed })]);
    case 'buffer': return materialize({ $: 'typed', type: 'Uint8Array', n: d.n, seed: d.seed }).buffer;
    case 'date': return new Date(0);
    case 'map': return new Map([['a', 1]]);
    case 'set': return new Set([1, 'a']);
    case 'regexp': return /a+/g;
    case 'sparse': {
      const a = [];
      a.length = d.n;
      a[d.n - 1] = 1;
      return a;
    }
    case 'huge':
      if (d.kind === 'string') return 'x'.repeat(d.n);
      if (d.kind === 'array') return new Array(d.n).fill(0.5);
      if (d.kind === 'f32') return new Float32Array(d.n).fill(0.5);
      return new Uint8Array(d.n).fill(7);
    case 'deep': {
      let v = 1;
      for (let i = 0; i < d.n; i++) v = d.kind === 'array' ? [v] : { a: v };
      return v;
    }
    case 'url': return new URL(d.path, location.href).href;
    case 'image': {
      const bytes = (IMAGES[d.which] ?? new Uint8Array(0)).slice();
      return d.as === 'blob' ? new Blob([bytes], { type: 'image/png' }) : d.as === 'buffer' ? bytes.buffer : bytes;
    }
    case 'imagedata': return new ImageData(new Uint8ClampedArray(d.width * d.height * 4).fill(200), d.width, d.height);
    case 'pixels': return { data: new Uint8ClampedArray(d.n).fill(128), width: d.width, height: d.height };
    case 'collection': {
      const bytes = savedCollection ? savedCollection.slice() : new Uint8Array(0);
      for (let i = 0; i < d.flips && bytes.length; i++) bytes[Math.floor(random() * bytes.length)] ^= 1 << Math.floor(random() * 8);
      return bytes;
    }
    default: return d;
  }
}

// ---- The run ----

/** The fixed valid sequence: each step's call, and its answer as compared (JSON). */
function probeSequence() {
  const items = Array.from({ length: 20 }, (_, i) => ({
    id: `p${i}`, vectors: { v: [Math.sin(i), Math.cos(i), Math.sin(2 * i), 1 + (i % 3)] },
    payload: { name: i % 2 ? 'alpha' : 'beta', n: i },
  }));
  const query = { vector: [0.3, -0.2, 0.9, 1], k: 5 };
  return [
    ['createCollection', { name: 'probe', config: { fields: [{ name: 'v', dim: 4, metric: 'cosine' }], textFields: ['name'] } }],
    ['add', { collection: 'probe', items, batchSize: 16 }],
    ['search', { collection: 'probe', query }],
    ['search', { collection: 'probe', query: { text: 'alpha', k: 3, filter: { range: { field: 'n', gte: 5 } } } }],
    ['search', { collection: 'probe', query: { ...query, exact: true, filter: { eq: { field: 'name', value: 'beta' } } } }],
    ['get', { collection: 'probe', id: 'p3' }],
    ['count', { collection: 'probe' }],
    ['save', { collection: 'probe' }],
    ['loadCollection', { name: 'probe-copy', bytes: null }], // the bytes `save` answered
    ['search', { collection: 'probe-copy', query }],
    ['get', { collection: 'probe-copy', id: 'p19' }],
    ['deleteCollection', { name: 'probe' }],
    ['deleteCollection', { name: 'probe-copy' }],
  ];
}

const show = (v) => JSON.stringify(v, (k, x) => (ArrayBuffer.isView(x) ? Array.from(x) : typeof x === 'bigint' ? `${x}n` : x));

/**
 * Opens a worker and returns the fuzzer: `run({ seed, from, count, batch, every, timeoutMs })`
 * posts messages `from`..`from + count` of run `seed`, `batch` at a time, running the probe
 * every `every` messages; `replay(descriptions)` posts kept cases one by one. Both resolve to
 * `{ sent, answered, results, errors: { code: n }, failures: [...] }` so far.
 */
export async function fuzzer({ timeoutMs = 60000, workerUrl = '/pkg/worker.js' } = {}) {
  if (!IMAGES.length) await makeImages();
  const worker = new Worker(workerUrl, { type: 'module', name: 'simil-fuzz' });
  const pending = new Map();
  const stats = { sent: 0, unsendable: 0, answered: 0, results: 0, errors: {}, probes: 0, failed: 0, failures: [], ms: {} };
  let died = null;
  let nextId = 1e9; // far from any id a random cancel names
  const failure = (what, detail) => {
    stats.failed++;
    if (stats.failures.length < 50) stats.failures.push({ what, ...detail });
  };
  worker.addEventListener('message', ({ data }) => {
    if (data?.type === 'fatal') died = `fatal: ${show(data.error)}`;
    const call = pending.get(data?.id);
    if (!call || (data.type !== 'result' && data.type !== 'error')) return;
    pending.delete(data.id);
    call.resolve(data);
  });
  worker.addEventListener('error', (e) => {
    died = `worker error: ${e.message}`;
  });
  worker.addEventListener('messageerror', () => {
    died = 'messageerror';
  });

  /** Posts `msg` (a call gets a fresh id); resolves to the reply, or null when none came in time. */
  function post(msg, transfer) {
    const id = msg.type === 'call' ? nextId++ : undefined;
    const sent = id === undefined ? msg : { ...msg, id };
    worker.postMessage(sent, transfer ?? []);
    if (id === undefined) return null;
    return new Promise((resolve) => pending.set(id, { resolve }));
  }
  const call = async (method, args) => post({ type: 'call', method, args });
  async function settle(promises) {
    let timer;
    const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const all = Promise.all(promises);
    const outcome = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return outcome === 'timeout' ? null : outcome;
  }

  /** The probe's answers, as compared. */
  async function probe() {
    const answers = [];
    let saved = null;
    for (const [method, args] of probeSequence()) {
      const reply = await settle([call(method, method === 'loadCollection' ? { ...args, bytes: saved } : args)]);
      if (!reply) return [...answers, 'timeout'];
      const [r] = reply;
      if (method === 'save' && r.type === 'result') saved = r.value;
      answers.push(r.type === 'result' ? show(r.value) : `error ${r.error?.code}: ${r.error?.message}`);
    }
    return answers;
  }

  const opened = await settle([call('open', { backend: 'cpu', storage: 'memory', models: {
    image: { url: new URL('/pkg/weights/mobilenet_v2.int8.safetensors', location.href).href, whitening: new URL('/pkg/weights/mobilenet_v2.whitening.safetensors', location.href).href },
    text: { url: new URL('/pkg/weights/minilm.int8.safetensors', location.href).href, tokenizerUrl: new URL('/pkg/weights/minilm.tokenizer.json', location.href).href },
  } })]);
  if (!opened || opened[0].type !== 'result') throw new Error(`the worker did not open: ${show(opened)}`);
  const expected = await probe();
  if (expected.some((a) => a.startsWith('error') || a === 'timeout')) throw new Error(`the probe fails on a fresh engine: ${expected.join('\n')}`);

  // The collections random calls aim at: `a` (two raw fields, keywords), `b` (one l2 field),
  // `m` (a field bound to the text model, and one to the image model); `probe` is never aimed at.
  const setup = [
    ['createCollection', { name: 'a', config: { fields: [{ name: 'v', dim: 4, metric: 'cosine' }, { name: 'w', dim: 2, metric: 'l2' }], textFields: ['name'] } }],
    ['createCollection', { name: 'b', config: { fields: [{ name: 'v', dim: 4, metric: 'l2' }] } }],
    ['createCollection', { name: 'm', config: { fields: [{ name: 't', dim: 384, metric: 'cosine' }, { name: 'i', dim: 1280, metric: 'cosine' }], embed: { t: 'text' }, textFields: ['name'] } }],
    ['add', { collection: 'a', items: probeSequence()[1][1].items.map((item, i) => ({ ...item, vectors: { ...item.vectors, w: [i, -i] } })) }],
    ['save', { collection: 'a' }],
  ];
  for (const [method, args] of setup) {
    const [r] = await settle([call(method, args)]) ?? [{ type: 'timeout' }];
    if (r.type !== 'result') throw new Error(`set-up ${method} failed: ${show(r)}`);
    if (method === 'save') savedCollection = r.value;
  }

  /** Checks one reply of the call described by `desc`. */
  function check(desc, reply) {
    if (reply === undefined) return failure('unanswered', { desc });
    stats.answered++;
    const method = desc.post?.method;
    const known = method === 'open' || (typeof method === 'string' && Object.hasOwn(CALLS, method));
    if (desc.expect !== undefined && (reply.type === 'result' ? 'result' : reply.error?.code) !== desc.expect) {
      failure('unexpected answer', { desc, reply: show(reply).slice(0, 300) });
    }
    if (reply.type === 'result') {
      stats.results++;
      if (!known) failure('unknown method answered', { desc, value: show(reply.value)?.slice(0, 300) });
      return;
    }
    const { name, code, message } = reply.error ?? {};
    stats.errors[code] = (stats.errors[code] ?? 0) + 1;
    const named = code === 'aborted' ? name === 'AbortError' : name === 'SimilError';
    if (!CODES.includes(code) || !named || typeof message !== 'string' || code === 'internal' || (!known && code !== 'input')) {
      failure('bad error', { desc, error: { name, code, message: String(message).slice(0, 300) } });
    }
  }

  /** Posts `descs`; resolves, once every call is answered or timed out, to a function that checks them. */
  function post_(descs) {
    const calls = [];
    for (const desc of descs) {
      let msg;
      try {
        msg = materialize(desc.post);
      } catch (e) {
        failure('generator', { desc, error: String(e) });
        continue;
      }
      let reply;
      try {
        reply = msg !== null && typeof msg === 'object' && msg.type === 'call' ? post(msg) : (worker.postMessage(msg), null);
      } catch {
        stats.unsendable++; // not structured-cloneable (too deep for the browser): never reaches the worker
        continue;
      }
      stats.sent++;
      if (reply) {
        const entry = { desc, reply: null };
        calls.push(entry);
        entry.done = reply.then((r) => {
          entry.reply = r;
          entry.at = performance.now();
        });
      }
    }
    const started = performance.now();
    return settle(calls.map((c) => c.done)).then((replies) => () => report(calls, replies, started));
  }

  async function send(descs) {
    (await post_(descs))();
  }

  function report(calls, replies, started) {
    // Where the time goes, by method: the gap before each answer (the worker answers in turn).
    let last = started;
    for (const c of calls.filter((c) => c.at).sort((x, y) => x.at - y.at)) {
      const m = typeof c.desc.post?.method === 'string' ? c.desc.post.method : '(junk)';
      stats.ms[m] = (stats.ms[m] ?? 0) + (c.at - last);
      last = c.at;
    }
    for (const { desc, reply } of calls) {
      if (reply) check(desc, reply);
      else failure('unanswered', { desc, note: `no answer within ${timeoutMs} ms` });
    }
    if (!replies) {
      pending.clear();
      died ??= 'a call went unanswered';
    }
    if (died && !diedReported) {
      diedReported = true;
      failure('died', { note: died });
    }
  }

  /** Makes the collections random calls aim at again, where random calls dropped or replaced them. */
  async function restock() {
    for (const [method, args] of setup.slice(0, 3)) {
      const [r] = await settle([call(method, args)]) ?? [{}];
      if (r.type === 'result') await settle([call('add', { collection: args.name, items: setup[3][1].items.filter(() => args.name === 'a') })]);
    }
  }

  let diedReported = false;
  async function checkProbe(at) {
    stats.probes++;
    const got = await probe();
    const diff = got.findIndex((a, i) => a !== expected[i]);
    if (diff >= 0) failure('probe', { at, step: probeSequence()[diff][0], expected: expected[diff]?.slice(0, 300), got: got[diff]?.slice(0, 300) });
    if (died && !diedReported) {
      diedReported = true;
      failure('died', { at, note: died });
    }
  }

  return {
    stats,
    get died() { return died; },
    async run({ seed, from = 0, count, batch = 200, every = 1000 }) {
      // Two batches in flight: the page makes and posts the next while the worker answers one.
      let inFlight = null;
      for (let start = from; start < from + count && !died; start += batch) {
        const n = Math.min(batch, from + count - start);
        const posted = post_(Array.from({ length: n }, (_, i) => ({ seed, index: start + i, ...message(seed, start + i) })));
        if (inFlight) (await inFlight)();
        inFlight = posted;
        if (Math.floor((start + n) / every) > Math.floor(start / every)) {
          (await inFlight)();
          inFlight = null;
          await checkProbe(start + n);
          await restock();
        }
      }
      if (inFlight) (await inFlight)();
      return stats;
    },
    async replay(descs) {
      for (const desc of descs) {
        await send([desc]);
        await checkProbe(`replay ${desc.note ?? ''}`);
        await restock();
      }
      return stats;
    },
    terminate: () => worker.terminate(),
  };
}
