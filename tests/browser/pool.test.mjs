// The model pool (issue 18, item 1; pkg/pool.js): embedding spread over model workers keeps
// the order and the values of one worker, reports one progress, cancels as a whole and reports
// each worker's memory; and a WebGPU device lost in the middle of a batch (issue 17, item 5)
// falls back to the CPU, finishes the batch, says so through progress, and later calls work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedEnv } from './harness.mjs';

const env = sharedEnv();

/** Runs `body` in a fresh page with `open` from the package and `images(n)`: n distinct ImageData. */
async function inPage(body, arg) {
  const page = await env.browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${env.url}/tests/browser/blank.html`);
  try {
    return await page.evaluate(async ([source, arg]) => {
      const { open } = await import('/pkg/index.js');
      const images = (n) => Array.from({ length: n }, (_, i) => {
        const data = new Uint8ClampedArray(48 * 40 * 4).map((_, j) => (j * (i + 3) * 7 + i * 31) % 256);
        return new ImageData(data, 48, 40);
      });
      return (0, eval)(`(${source})`)({ open, images, arg });
    }, [body.toString(), arg]);
  } finally {
    assert.deepEqual(errors, []);
    await page.close();
  }
}

test('a pool of 2 workers gives the vectors of 1 worker, in order, with one progress and each worker\'s memory', async () => {
  const r = await inPage(async ({ open, images }) => {
    const run = async (workers) => {
      const simil = await open({ backend: 'cpu', storage: 'memory', workers });
      await simil.loadImageModel();
      const progress = [];
      const vectors = await simil.embedImages(images(12), { batchSize: 2, onProgress: (p) => progress.push(p) });
      const memory = await simil.memory();
      simil.terminate();
      return { vectors: vectors.map((v) => Array.from(v)), progress, memory };
    };
    return { one: await run(1), two: await run(2) };
  });
  assert.equal(r.two.vectors.length, 12);
  for (let i = 0; i < 12; i++) {
    const diff = Math.max(...r.two.vectors[i].map((x, j) => Math.abs(x - r.one.vectors[i][j])));
    assert.ok(diff < 1e-6, `image ${i}: the pool's vector differs from one worker's by ${diff}`);
  }
  assert.notDeepEqual(r.two.vectors[0], r.two.vectors[1], 'distinct images give distinct vectors');
  assert.deepEqual(r.two.progress.map((p) => p.done), [2, 4, 6, 8, 10, 12]);
  assert.ok(r.two.progress.every((p) => p.total === 12));
  assert.equal(r.two.memory.workers.length, 2);
  assert.equal(r.one.memory.workers.length, 1);
  for (const w of r.two.memory.workers) assert.ok(w.backend === 'cpu' && w.bytes > 1e6, JSON.stringify(w));
  assert.equal(r.two.memory.model, r.two.memory.workers[0].bytes + r.two.memory.workers[1].bytes);
});

test('a cancel stops every worker of the pool, and the next call works', async () => {
  const r = await inPage(async ({ open, images }) => {
    const simil = await open({ backend: 'cpu', storage: 'memory', workers: 2 });
    await simil.loadImageModel();
    const controller = new AbortController();
    const progress = [];
    const error = await simil.embedImages(images(40), {
      batchSize: 1, signal: controller.signal, onProgress: (p) => { progress.push(p.done); if (p.done === 2) controller.abort(); },
    }).then(() => null, (e) => e.name);
    const after = progress.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const late = progress.length - after;
    const [next] = await simil.embedImages(images(1));
    simil.terminate();
    return { error, late, done: progress.at(-1), next: next.length };
  });
  assert.equal(r.error, 'AbortError');
  assert.equal(r.late, 0, 'no progress after the cancel');
  assert.ok(r.done < 40, `stopped early (at ${r.done})`);
  assert.ok(r.next > 0);
});

test('a WebGPU device lost in the middle of a batch falls back to the CPU, finishes the batch and says so', async () => {
  const r = await inPage(async ({ open, images }) => {
    const input = images(5);
    const cpu = await open({ backend: 'cpu', storage: 'memory', workers: 1 });
    await cpu.loadImageModel();
    const expected = await cpu.embedImages(input, { batchSize: 1 });
    cpu.terminate();

    const simil = await open({ backend: 'webgpu', storage: 'memory' });
    await simil.loadImageModel();
    const before = simil.backend;
    const progress = [];
    const vectors = await simil.embedImages(input, {
      batchSize: 1,
      onProgress: (p) => {
        progress.push(p);
        if (p.done === 1) simil.worker.postMessage({ type: 'lose-device' });
      },
    });
    const cosines = vectors.map((v, i) => v.reduce((s, x, j) => s + x * expected[i][j], 0));
    const [later] = await simil.embedImages(images(1));
    const { device } = await simil.models();
    simil.terminate();
    return { before, after: simil.backend, reason: simil.backendReason, progress, cosines, later: later.length, device, n: vectors.length };
  });
  assert.equal(r.before, 'webgpu');
  assert.equal(r.n, 5);
  const lost = r.progress.filter((p) => p.status === 'device-lost');
  assert.equal(lost.length, 1, JSON.stringify(r.progress));
  assert.equal(lost[0].backend, 'cpu');
  assert.deepEqual(r.progress.filter((p) => p.done !== undefined).map((p) => p.done), [1, 2, 3, 4, 5]);
  for (const c of r.cosines) assert.ok(c > 0.99, `each vector matches the CPU's (cosine ${c})`);
  assert.equal(r.after, 'cpu');
  assert.match(r.reason, /WebGPU device was lost/);
  assert.equal(r.device.backend, 'cpu');
  assert.ok(r.later > 0, 'a later call works');
});
