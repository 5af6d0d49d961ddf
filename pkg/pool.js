// simil's model pool: embedding spread over model workers (pkg/model-worker.js), each its own
// instance of the model module, started by simil's main worker (pkg/worker.js).
//
// - Size: `open({ workers })`, by default min(navigator.hardwareConcurrency, 4) on the CPU; one
//   worker on WebGPU (one GPU serves the page; N copies of the weights on it run no faster).
//   A model over GIANT bytes (CLIP) runs in one worker, not copied N times.
// - Models: each load goes to every worker, and is kept (`history`) so that a worker started
//   later (a replacement) loads the same; weights are downloaded once, by the main worker.
// - Calls: `run(op, args)` sends one call (a batch) to the least busy worker, in order per
//   worker; callers keep several batches in flight (`inFlight`) so every worker stays busy, and
//   put the results back in their order.
// - Device: `auto` is decided by measurement (pkg/device.js): the first model load also runs
//   on a WebGPU worker, both are timed, the slower is dropped, the choice is remembered.
// - Device loss: a WebGPU worker whose device is lost (or whose instance traps) is terminated and
//   replaced by a CPU worker with the same models; the batch it held runs again there, the call
//   hears `{ status: 'device-lost', backend: 'cpu', message }` through its progress, and the
//   pool stays on the CPU. A CPU worker that crashes is replaced the same way
//   (`status: 'worker-restarted'`).
import { describeAdapter, recall, remember } from './device.js';
import { fail } from './protocol.js';

/** A model of more bytes than this runs in one worker only. */
const GIANT = 200e6;

/** The most model workers a pool may have. */
export const MAX_WORKERS = 16;

/** One model worker: numbered requests, answered in order. */
class ModelWorker {
  constructor() {
    this.worker = new Worker(new URL('./model-worker.js', import.meta.url), { type: 'module', name: 'simil-model' });
    this.pending = new Map();
    this.next = 1;
    this.backend = null;
    /** Why this worker is unusable (its device lost, it crashed), or null. */
    this.broken = null;
    this.inFlight = 0;
    this.worker.addEventListener('message', ({ data }) => {
      if (data.type === 'lost') return this.#break(fail('compute', data.message), true);
      const call = this.pending.get(data.id);
      if (!call) return;
      this.pending.delete(data.id);
      if (data.error) {
        if (data.error.lost || data.error.fatal) this.#break(data.error, data.error.lost);
        call.reject(this.broken ?? data.error);
      } else {
        call.resolve(data.value);
      }
    });
    this.worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      this.#break(fail('worker', `a model worker stopped${event.message ? `: ${event.message}` : ''}`), false);
    });
  }

  /** Marks this worker unusable, fails what it holds and stops it. */
  #break(error, lost) {
    if (this.broken) return;
    this.broken = { ...error, lost };
    for (const { reject } of this.pending.values()) reject(this.broken);
    this.pending.clear();
    this.worker.terminate();
  }

  /** Sends `op(...args)`; resolves to its value. */
  request(op, args = []) {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.next++;
    this.inFlight++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args });
    }).finally(() => this.inFlight--);
  }

  terminate() {
    this.broken ??= fail('state', 'the model worker was stopped');
    this.worker.terminate();
  }
}

/** A pool of model workers on one device. */
export class Pool {
  /**
   * `size`: workers on the CPU; `backend`: "auto", "webgpu" or "cpu"; `compile()`: the model
   * module, compiled once; `onState(backend, reason)`: the device, whenever it is decided or
   * changes.
   */
  constructor({ size, backend, compile, onState }) {
    this.size = size;
    this.wanted = backend;
    this.compile = compile;
    this.onState = onState;
    this.workers = [];
    this.history = [];
    /** What is loaded: `{ image, text }` model infos, as the engine reports them. */
    this.loaded = { image: null, text: null };
    this.device = null;
    this.started = null;
    this.undecided = null;
    this.giant = false;
  }

  /** The pool, started on first use: the device chosen (or to be measured) and its workers. */
  start() {
    this.started ??= this.#start().catch((e) => {
      this.started = null;
      for (const w of this.workers) w.terminate();
      this.workers = [];
      throw e;
    });
    return this.started;
  }

  async #start() {
    this.module = await this.compile();
    let backend = this.wanted;
    let reason = `asked for ${backend}`;
    if (backend === 'auto') {
      const adapter = await describeAdapter();
      const known = adapter.none ? null : await recall(adapter.key);
      if (adapter.none) [backend, reason] = ['cpu', 'no WebGPU adapter'];
      else if (known) [backend, reason] = [known.backend, `${known.reason} (measured before on ${adapter.name})`];
      else {
        this.undecided = adapter;
        [backend, reason] = ['cpu', `the CPU until the first model load measures ${adapter.name}`];
      }
    }
    const first = await this.#spawn(backend);
    this.workers = [first];
    this.#announce(first.backend, reason);
    if (first.backend === 'cpu') await this.#grow();
    this.loaded = await first.request('models');
  }

  /** A new worker on `backend` with the pool's models loaded. */
  async #spawn(backend) {
    const worker = new ModelWorker();
    try {
      worker.backend = await worker.request('open', [this.module, backend]);
      for (const { op, args } of this.history) await worker.request(op, args);
      return worker;
    } catch (e) {
      worker.terminate();
      throw e;
    }
  }

  /** Adds CPU workers up to the pool's size (one for a giant model). */
  async #grow() {
    const want = this.giant ? 1 : this.size;
    const more = Array.from({ length: Math.max(0, want - this.workers.length) }, () => this.#spawn('cpu'));
    this.workers.push(...(await Promise.all(more)));
  }

  #announce(backend, reason) {
    this.device = { backend, reason };
    this.onState(backend, reason);
  }

  /**
   * Loads a model on every worker: `op` ("loadImageModel", "loadTextModel", "loadClip") with
   * `args` (the files' bytes); `kind` ("image" or "text") is the model timed when `auto` is
   * undecided. Resolves to the first worker's info.
   */
  async load(op, args, kind, bytes) {
    await this.start();
    if (bytes > GIANT) {
      this.giant = true;
      for (const w of this.workers.splice(1)) w.terminate();
    } else if (this.giant && op !== 'loadTextModel') {
      this.giant = false; // the giant model is replaced: the pool grows again after this load
    }
    const infos = await Promise.all(this.workers.map((w) => w.request(op, args)));
    this.history.push({ op, args: this.giant ? null : args });
    if (this.undecided && !this.giant) await this.#measure(kind);
    if (!this.giant && this.device.backend === 'cpu' && this.workers.length < this.size) await this.#grow();
    this.loaded = await this.workers[0].request('models');
    return infos[0];
  }

  /** Times `kind`'s model on the CPU worker and on a WebGPU one; keeps the faster. */
  async #measure(kind) {
    const adapter = this.undecided;
    this.undecided = null;
    let gpu;
    try {
      gpu = await this.#spawn('webgpu');
    } catch {
      this.#announce('cpu', `WebGPU would not open on ${adapter.name}`);
      return;
    }
    const cpuRate = await this.workers[0].request('rate', [kind]);
    const gpuRate = await gpu.request('rate', [kind]);
    const reason = `measured on the ${kind} model: WebGPU (${adapter.name}${adapter.software ? ', software' : ''}) ${gpuRate.toFixed(1)}/s, CPU ${cpuRate.toFixed(1)}/s`;
    if (gpuRate > cpuRate) {
      for (const w of this.workers) w.terminate();
      this.workers = [gpu];
    } else {
      gpu.terminate();
    }
    this.#announce(this.workers[0].backend, reason);
    await remember(adapter.key, { backend: this.workers[0].backend, reason });
  }

  /** Learns the image whitening on one worker and installs it on every worker; resolves to its bytes. */
  async fitImageWhitening(rows) {
    const bytes = await this.run('fitImageWhitening', [rows]);
    await Promise.all(this.workers.slice(1).map((w) => w.request('setImageWhitening', [bytes])));
    this.history.push({ op: 'setImageWhitening', args: [bytes] });
    this.loaded = await this.workers[0].request('models');
    return bytes;
  }

  /**
   * Runs `op(...args)` (one batch) on the least busy worker. A worker whose device is lost is
   * replaced by a CPU worker and the batch runs again there; `call` hears of it.
   */
  async run(op, args, call) {
    await this.start();
    for (;;) {
      const worker = this.workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
      try {
        return await worker.request(op, args);
      } catch (e) {
        if (!worker.broken) throw e;
        await this.#replace(worker, call);
      }
    }
  }

  /** Replaces broken `worker` (once, however many batches it held) by a CPU worker; `call` hears of it. */
  #replace(worker, call) {
    if (worker.replaced) return worker.replaced;
    const { message, lost } = worker.broken;
    call?.progress({ status: lost ? 'device-lost' : 'worker-restarted', backend: 'cpu', message });
    worker.replaced = (async () => {
      if (this.history.some((h) => h.args === null)) {
        throw fail('compute', `${message}; the models must be loaded again (a model this large is not kept for a restart)`);
      }
      const fresh = await this.#spawn('cpu');
      this.workers = this.workers.filter((w) => w !== worker && !w.broken).concat(fresh);
      if (worker.backend === 'webgpu') {
        for (const w of this.workers.filter((w) => w.backend !== 'cpu')) w.terminate();
        this.workers = this.workers.filter((w) => w.backend === 'cpu');
        this.#announce('cpu', `${lost ? 'the WebGPU device was lost' : 'the WebGPU worker failed'} (${message}): the CPU since`);
      }
      await this.#grow();
    })();
    return worker.replaced;
  }

  /** Destroys the WebGPU devices of the pool's workers (as a driver reset would); resolves to how many workers had one. */
  async loseDevice() {
    await this.start();
    const gpu = this.workers.filter((w) => w.backend === 'webgpu');
    for (const w of gpu) w.request('loseDevice').catch(() => {});
    return gpu.length;
  }

  /** Each worker's device and wasm memory in bytes. */
  async memory() {
    if (!this.started) return [];
    await this.start();
    return Promise.all(this.workers.map(async (w) => ({ backend: w.backend, bytes: await w.request('memory') })));
  }
}

/**
 * Runs `start(batch, i)` over `batches` with `window` of them in flight, and `finish(value,
 * batch, i)` on each result in order. `call.checkCancelled()` before each start: a cancel stops
 * starting batches, waits for those in flight, and throws.
 */
export async function inFlight(batches, window, start, finish, call) {
  const running = [];
  let next = 0;
  const launch = () => {
    const i = next++;
    const promise = start(batches[i], i);
    promise.catch(() => {}); // awaited below, in order
    running.push({ promise, i });
  };
  try {
    while (next < batches.length || running.length) {
      while (next < batches.length && running.length < window) {
        call.checkCancelled();
        launch();
      }
      const { promise, i } = running.shift();
      await finish(await promise, batches[i], i);
    }
  } finally {
    await Promise.allSettled(running.map((r) => r.promise));
  }
}
