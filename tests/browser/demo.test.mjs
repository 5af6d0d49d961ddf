// The demo page, as a visitor sees it: it loads the package (the search module alone), becomes
// ready without a console error, and answers a click with neighbours. Saves a screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { openPage, ROOT, sharedEnv } from './harness.mjs';

const env = sharedEnv();

test('demo becomes ready with no console error and answers a click', async () => {
  const { page, errors } = await openPage(env, '/www/');
  await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('#status', 'data-state'), 'ready', await page.textContent('#status'));
  assert.equal(await page.textContent('#backend'), 'best available (WebGPU or CPU)');
  assert.match(await page.textContent('#status'), /Ready · 300 items/);
  await page.click('#gallery .digit:nth-child(150)');
  await page.waitForFunction(() => document.querySelector('#query span')?.textContent === 'query: 4');
  assert.equal(await page.locator('#results .digit').count(), 12);
  await mkdir(new URL('tests/out/', ROOT), { recursive: true });
  await page.screenshot({ path: new URL('tests/out/demo.png', ROOT).pathname, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('demo trains a metric head with progress and then searches the learned field', async () => {
  const { page, errors } = await openPage(env, '/www/?backend=cpu');
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 120_000 });
  await page.click('#train');
  await page.waitForFunction(() => /^step \d+ of 150/.test(document.querySelector('#train-status').textContent));
  await page.waitForSelector('#train-status[data-state="trained"], #train-status[data-state="error"]', { timeout: 120_000 });
  const text = await page.textContent('#train-status');
  assert.match(text, /^Trained in [\d.]+ s on cpu\. Precision@2 .*plain 0\.\d+, learned (0|1)\.\d+\.$/);
  assert.equal(await page.textContent('#backend'), 'cpu');
  await page.check('#use-learned');
  await page.click('#gallery .digit:nth-child(150)');
  await page.waitForFunction(() => document.querySelector('#query span')?.textContent === 'query: 4');
  await page.waitForFunction(() => document.querySelectorAll('#results .digit').length === 12);
  assert.deepEqual(errors, []);
  await page.close();
});

test('demo shows a clear message when the engine cannot load', async () => {
  const { page } = await openPage(env, '/www/?backend=webgpu-please');
  await page.waitForSelector('#status[data-state="error"]', { timeout: 60_000 });
  assert.match(await page.textContent('#status'), /simil could not start: unknown backend/);
  await page.close();
});
