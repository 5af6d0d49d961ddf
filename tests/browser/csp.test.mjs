// Privacy and security (issue 17, item 7): under the demo's strict Content-Security-Policy
// (scripts/serve.mjs's CSP: own origin only, plus WebAssembly compilation) the package runs
// every module (search, model, trainer) and the demo opens and searches with no violation;
// no request leaves the page's origin; no shipped file uses eval or new Function.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { CSP } from '../../scripts/serve.mjs';
import { launch, ROOT } from './harness.mjs';

// Violations seen by every test; with SIMIL_WRITE_RESULTS=1 their count goes into
// bench/results/hardening.json (`csp_violations`), so that a plain test run leaves the tree alone.
let violations = 0;
after(async () => {
  if (process.env.SIMIL_WRITE_RESULTS !== '1') return;
  const file = new URL('bench/results/hardening.json', ROOT);
  const results = JSON.parse(await readFile(file, 'utf8'));
  results.csp_violations = violations;
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
});

/** Opens `path` under the CSP, recording violations (from the page and its workers), errors and requests. */
async function strictPage(env, path) {
  const page = await env.browser.newPage();
  const seen = { violations: [], errors: [], outside: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.errors.push(msg.text());
  });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  await page.context().route('**/*', (route) => {
    const url = route.request().url();
    if (!url.startsWith(env.url) && !url.startsWith('blob:') && !url.startsWith('data:')) seen.outside.push(url);
    return route.continue();
  });
  await page.exposeFunction('reportViolation', (v) => {
    violations++;
    seen.violations.push(v);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(`${e.violatedDirective}: ${e.blockedURI}`));
  });
  await page.goto(env.url + path);
  return { page, seen };
}

/** Runs `body(page)` on `path` served with the CSP, then asserts no violation, error or outside request. */
async function underCsp(path, body) {
  const env = await launch({ headers: { 'content-security-policy': CSP } });
  try {
    const { page, seen } = await strictPage(env, path);
    await body(page);
    await page.waitForTimeout(200);
    assert.deepEqual(seen.violations, []);
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.outside, []);
    await page.close();
  } finally {
    await env.close();
  }
}

test('the package runs its search, model and trainer modules under the strict CSP with no violation', async () => {
  await underCsp('/tests/browser/blank.html', async (page) => {
    const header = await page.evaluate(async () => (await fetch(location.href)).headers.get('content-security-policy'));
    assert.equal(header, CSP);
    const result = await page.evaluate(async () => {
      const { open } = await import('/pkg/index.js');
      const simil = await open({ backend: 'cpu' });
      const canvas = new OffscreenCanvas(48, 48);
      const g = canvas.getContext('2d');
      const images = [];
      for (const colour of ['#c33', '#3c3', '#33c', '#cc3']) {
        g.fillStyle = colour;
        g.fillRect(0, 0, 48, 48);
        images.push(await canvas.convertToBlob());
      }
      const c = await simil.collection('csp', { fields: [{ name: 'image', metric: 'cosine' }], embed: { image: 'image' }, textFields: ['name'] });
      await c.add(images.map((image, i) => ({ id: `i${i}`, image, payload: { name: `colour ${i}`, label: String(i % 2) } })));
      const hits = await c.search({ image: images[2], k: 1 });
      const trained = await c.trainHead({ field: 'image', labelKey: 'label', output: 'learned', steps: 3, classesPerBatch: 2, examplesPerClass: 2, selfSupervised: false, seed: 1 });
      await simil.flush();
      simil.terminate();
      return { top: hits[0].id, steps: trained.steps };
    });
    assert.deepEqual(result, { top: 'i2', steps: 3 });
  });
});

test('the demo page opens under the strict CSP with no violation', async () => {
  await underCsp('/www/?backend=cpu', async (page) => {
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(1500);
  });
});

test('no shipped script uses eval or new Function', async () => {
  const files = [
    ...(await readdir(new URL('pkg/', ROOT))).filter((f) => f.endsWith('.js')).map((f) => `pkg/${f}`),
    ...(await readdir(new URL('pkg/wasm/', ROOT))).filter((f) => f.endsWith('.js')).map((f) => `pkg/wasm/${f}`),
  ];
  assert.ok(files.length >= 8, `files: ${files}`);
  for (const file of files) {
    const text = await readFile(new URL(file, ROOT), 'utf8');
    assert.doesNotMatch(text, /\beval\s*\(|new\s+Function\s*\(/, file);
  }
});
