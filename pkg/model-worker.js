// One worker of simil's model pool (pkg/pool.js): one instance of the model module on one
// device, the models loaded on it, and image decoding. simil's main worker (pkg/worker.js)
// starts it and is its only correspondent: requests `{ id, op, args }`, replies
// `{ id, value }` or `{ id, error }` (a SimilError-shaped object; `lost: true` when the device
// was lost under the call, `fatal: true` when the instance cannot be trusted any more), and
// `{ type: 'lost', message }` when the WebGPU device is lost between calls.
import init, { ModelEngine } from './wasm/simil_model.js';
import { packImages } from './pixels.js';
import { describe, fail } from './protocol.js';
import { rate } from './device.js';

let engine = null;
/** The model module's wasm memory, once open. */
let memory = null;
/** The WebGPU devices this worker's engine opened, and why the last one was lost (or null). */
const devices = new Set();
let lost = null;
let onLost = () => {};

// Every device wgpu requests is watched: a lost device (a driver reset, the tab's GPU process
// gone, `destroy()`) is told to the pool at once, which replaces this worker by a CPU one.
if (typeof GPUAdapter !== 'undefined') {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function watched(...args) {
    const device = await requestDevice.apply(this, args);
    devices.add(device);
    device.lost.then((info) => {
      lost = info?.message || `the WebGPU device was lost (${info?.reason ?? 'unknown reason'})`;
      self.postMessage({ type: 'lost', message: lost });
      onLost();
    });
    return device;
  };
}

const ops = {
  /** Instantiates the model module (`module`: the compiled WebAssembly.Module) and opens `backend`. */
  async open(module, backend) {
    ({ memory } = await init({ module_or_path: module }));
    engine = await ModelEngine.open(backend);
    return engine.backend();
  },
  loadImageModel: (bytes, white) => engine.loadImageModel(bytes, white ?? undefined),
  setImageWhitening: (bytes) => engine.setImageWhitening(bytes ?? undefined),
  loadTextModel: (weights, tokenizer) => engine.loadTextModel(weights, tokenizer),
  loadClip: (weights, config, vocab, merges) => engine.loadClip(weights, config, vocab, merges),
  models: () => engine.models(),
  fitImageWhitening: (rows) => engine.fitImageWhitening(rows),
  /** Unit vectors (n × dim, row-major) of a batch of images, decoded here. */
  async embedImages(images, whiten) {
    const { rgba, sizes } = await packImages(images);
    return engine.embedImages(rgba, sizes, whiten);
  },
  embedTexts: (texts) => engine.embedTexts(texts),
  /** Inputs per second of `kind`'s loaded model on this worker's device (pkg/device.js). */
  rate: (kind) => rate(engine, kind),
  /** Bytes of this worker's wasm memory. */
  memory: () => memory?.buffer.byteLength ?? 0,
  /** Destroys this worker's WebGPU devices, as a driver reset would: recovery is tested by it. */
  loseDevice() {
    for (const device of devices) device.destroy();
    return devices.size;
  },
};

// Calls run one at a time, in the order they came (the pool keeps a few queued here so that this
// worker never waits for the next batch); `memory` and `loseDevice` answer at once, open or not.
const AT_ONCE = new Set(['memory', 'loseDevice']);
let queue = Promise.resolve();
self.addEventListener('message', ({ data }) => {
  if (AT_ONCE.has(data.op)) return answer(data);
  queue = queue.then(() => answer(data));
});

async function answer({ id, op, args }) {
  try {
    if (!Object.hasOwn(ops, op)) throw fail('internal', `model worker: unknown op \`${op}\``);
    if (op !== 'open' && !AT_ONCE.has(op) && !engine) throw fail('state', 'the model worker is not open');
    if (lost) throw fail('compute', lost);
    const value = await Promise.race([ops[op](...args), new Promise((_, reject) => {
      onLost = () => reject(fail('compute', lost));
    })]);
    const transfer = ArrayBuffer.isView(value) ? [value.buffer] : [];
    self.postMessage({ id, value }, transfer);
  } catch (e) {
    if (engine && engine.backend() === 'webgpu' && !lost && e?.code !== 'input') {
      // A failure on the GPU may be the device going away: give its `lost` promise a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    self.postMessage({ id, error: { ...describe(e), lost: lost !== null, fatal: e instanceof WebAssembly.RuntimeError } });
  } finally {
    onLost = () => {};
  }
}
