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
  count: collectionCall('count'),
  get: collectionCall('get'),
  stats: collectionCall('stats'),
  config: collectionCall('config'),
  save: collectionCall('save'),
  load: collectionCall('load'),
  async randomProjection(rows, inputDim, outputDim, seed) {
    const out = await engine.randomProjection(rows, inputDim, outputDim, BigInt(seed));
    return out;
  },
};

// Calls run one after another so that a long call never interleaves with the next.
let queue = Promise.resolve();
let waiting = 0;

self.addEventListener('message', (event) => {
  const msg = event.data;
  if (msg.type === 'cancel') {
    cancelled.add(msg.id);
    return;
  }
  if (msg.type !== 'call') return;
  waiting++;
  queue = queue.then(async () => {
    waiting--;
    const { id, method, args } = msg;
    if (cancelled.delete(id)) return;
    try {
      const fn = methods[method];
      if (!fn) throw { name: 'SimilError', code: 'input', message: `unknown method \`${method}\`` };
      if (method !== 'open' && !engine) {
        throw { name: 'SimilError', code: 'state', message: 'simil is not open yet' };
      }
      const value = await fn(...args);
      const transfer = ArrayBuffer.isView(value) ? [value.buffer] : [];
      self.postMessage({ type: 'result', id, value }, transfer);
    } catch (e) {
      self.postMessage({ type: 'error', id, error: describe(e) });
    }
    scheduleUpkeep();
  });
});

// Index upkeep (sealing exact segments into HNSW graphs, merging) runs one step at a time,
// only when no call is waiting, so searches keep answering between steps.
let upkeepTimer = null;
function scheduleUpkeep() {
  if (upkeepTimer !== null || !engine) return;
  upkeepTimer = setTimeout(() => {
    upkeepTimer = null;
    if (waiting > 0) return; // the call that is waiting reschedules upkeep when it is done
    queue = queue.then(() => {
      try {
        if (engine.maintainStep()) scheduleUpkeep();
      } catch (e) {
        console.warn('simil: index upkeep failed', e);
      }
    });
  }, 0);
}
