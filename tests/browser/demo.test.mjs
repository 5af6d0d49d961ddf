// The demo page, as a visitor sees it: it loads the package, reports its backend, becomes
// ready without a console error, and answers a click with neighbours. Saves a screenshot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { launch, openPage, ROOT } from './harness.mjs';

let env;
before(async () => { env = await launch(); });
after(async () => env?.close());

test('demo becomes ready on WebGPU with no console error and answers a click', async () => {
  const { page, errors } = await openPage(env, '/www/');
  await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('#status', 'data-state'), 'ready', await page.textContent('#status'));
  assert.equal(await page.textContent('#backend'), 'webgpu');
  assert.match(await page.textContent('#status'), /Ready · webgpu backend · 300 items/);
  await page.click('#gallery .digit:nth-child(150)');
  await page.waitForFunction(() => document.querySelector('#query span')?.textContent === 'query: 4');
  assert.equal(await page.locator('#results .digit').count(), 12);
  await mkdir(new URL('tests/out/', ROOT), { recursive: true });
  await page.screenshot({ path: new URL('tests/out/demo.png', ROOT).pathname, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('demo shows a clear message when the engine cannot load', async () => {
  const { page } = await openPage(env, '/www/?backend=webgpu-please');
  await page.waitForSelector('#status[data-state="error"]', { timeout: 60_000 });
  assert.match(await page.textContent('#status'), /simil could not start: unknown backend/);
  await page.close();
});
