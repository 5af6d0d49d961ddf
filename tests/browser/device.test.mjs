// The faster device by measurement (issue 18, item 4): with `backend: 'auto'` the first model
// load runs on both devices and keeps the faster; on this machine's Chromium the WebGPU adapter
// is SwiftShader (software), so auto must pick the CPU, say why, and remember it; an explicit
// backend is obeyed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedEnv } from './harness.mjs';

const env = sharedEnv();

test('auto measures both devices on the first model load, picks the CPU over SwiftShader, and remembers it', async () => {
  const context = await env.browser.newContext();
  const errors = [];
  const visit = async () => {
    const page = await context.newPage();
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    await page.goto(`${env.url}/tests/browser/blank.html`);
    const result = await page.evaluate(async () => {
      const { open } = await import('/pkg/index.js');
      const simil = await open();
      const before = simil.backend;
      await simil.loadImageModel();
      const [vector] = await simil.embedImages([new ImageData(new Uint8ClampedArray(64 * 64 * 4).fill(200), 64, 64)]);
      const { device } = await simil.models();
      simil.terminate();
      return { before, backend: simil.backend, reason: simil.backendReason, device, dim: vector.length };
    });
    await page.close();
    return result;
  };
  const first = await visit();
  assert.equal(first.before, null);
  assert.equal(first.backend, 'cpu');
  assert.match(first.reason, /^measured on the image model: WebGPU \(.*software\) [\d.]+\/s, CPU [\d.]+\/s$/);
  const [gpu, cpu] = first.reason.match(/[\d.]+(?=\/s)/g).map(Number);
  assert.ok(cpu > gpu, first.reason);
  assert.deepEqual(first.device, { backend: 'cpu', reason: first.reason });
  assert.ok(first.dim > 0);
  const second = await visit();
  assert.equal(second.backend, 'cpu');
  assert.match(second.reason, /measured before on /);
  assert.deepEqual(errors, []);
  await context.close();
});

test('an explicit backend is obeyed and says so', async () => {
  const page = await env.browser.newPage();
  await page.goto(`${env.url}/tests/browser/blank.html`);
  const result = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const simil = await open({ backend: 'webgpu' });
    await simil.loadImageModel();
    simil.terminate();
    return [simil.backend, simil.backendReason];
  });
  assert.deepEqual(result, ['webgpu', 'asked for webgpu']);
  await page.close();
});
