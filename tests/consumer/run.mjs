// The consumer test (issue 15): the npm package installed and used as a user would.
// `npm pack` in pkg/ (the tarball must hold exactly the files the API needs, ≤ 30 MB), then a
// copy of tests/consumer/template/ in a temp folder outside the repo installs that tarball and
// Vite with npm, `vite build`s, and headless Chromium runs the README's quick start (its first
// ```js block under "## Using the package", verbatim) from dist/, then the same page served
// without a bundler (static.html: an importmap to the installed package). Each page also loads
// the default models from the package's own weights (with download progress), embeds and trains
// a tiny head. No console error, no request outside 127.0.0.1.
//
//   node tests/consumer/run.mjs        (or node --test tests/consumer/run.mjs)
// Writes tests/out/consumer.json: { tarball_bytes, unpacked_bytes, files, consumer_test }.
// KEEP=1 keeps the temp folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { CHROMIUM_ARGS } from '../browser/harness.mjs';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PKG = join(ROOT, 'pkg');
const TEMPLATE = fileURLToPath(new URL('./template/', import.meta.url));
const MAX_TARBALL = 30 * 1024 * 1024;

/** Exactly what the package must ship: the API, the three wasm modules, the default weights. */
const EXPECTED_FILES = [
  'package.json', 'index.js', 'index.d.ts', 'protocol.js', 'store.js', 'cache.js', 'device.js', 'worker.js', 'pool.js', 'model-worker.js', 'pixels.js', 'build-worker.js',
  ...['simil_search', 'simil_model', 'simil_train'].flatMap((m) => [`wasm/${m}.js`, `wasm/${m}_bg.wasm`]), 'wasm/manifest.json',
  ...['mobilenet_v2.int8.safetensors', 'mobilenet_v2.whitening.safetensors', 'minilm.int8.safetensors', 'minilm.tokenizer.json']
    .flatMap((f) => [`weights/${f}`, `weights/${f}.sha256`]),
].sort();

// Values the README's quick start leaves to the reader, defined before it where it does not
// define them itself: image files (three PNGs drawn on a canvas), or one 128-d vector to add
// and a query near it.
const PRELUDE = {
  files: "const files = await Promise.all(['beach', 'forest', 'city'].map(async (name, i) => { const canvas = new OffscreenCanvas(64, 64); const g = canvas.getContext('2d'); g.fillStyle = ['#eb5', '#3a3', '#557'][i]; g.fillRect(0, 0, 64, 64); g.fillStyle = '#fff'; g.fillRect(8 + 12 * i, 8, 20, 30); return new File([await canvas.convertToBlob()], `${name}.png`, { type: 'image/png' }); }));",
  vector: 'const vector = Array.from({ length: 128 }, (_, i) => Math.cos(i * 0.37));',
  query: 'const query = Array.from({ length: 128 }, (_, i) => Math.cos(i * 0.37) + 0.01 * Math.sin(i));',
};

/** The README's quick start: the first ```js block under "## Using the package". */
export async function quickStart() {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.indexOf('\n## Using the package');
  assert.ok(section >= 0, 'README.md has a "## Using the package" section');
  const start = readme.indexOf('```js\n', section);
  const next = readme.indexOf('\n## ', section + 1);
  assert.ok(start >= 0 && (next < 0 || start < next), 'the section has a ```js block');
  const body = start + '```js\n'.length;
  return readme.slice(body, readme.indexOf('\n```', body) + 1);
}

/** quickstart.js: the quick start verbatim, after the values it leaves open, exporting `hits`. */
function quickStartModule(code) {
  const prelude = Object.entries(PRELUDE)
    .filter(([name]) => new RegExp(`\\b${name}\\b`).test(code) && !new RegExp(`\\b(const|let|var)\\s+${name}\\b`).test(code))
    .map(([, line]) => line);
  return [
    '// Written by tests/consumer/run.mjs: the README quick start, verbatim, between the values it',
    '// leaves to the reader and the export the page reads.',
    ...prelude,
    '// ---- README.md, "## Using the package" ----',
    code.trimEnd(),
    '// ----',
    'export { hits };',
    '',
  ].join('\n');
}

async function sh(cmd, args, cwd, what) {
  const started = Date.now();
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } });
    return { stdout, stderr, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    throw new Error(`${what} failed (${cmd} ${args.join(' ')} in ${cwd}):\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** Opens `url` in a fresh context; resolves to the page's report, its errors and outside requests. */
async function runPage(browser, origin, url) {
  const context = await browser.newContext();
  const outside = [];
  const requests = [];
  await context.route('**/*', (route) => {
    const request = route.request().url();
    requests.push(request);
    if (request.startsWith(`${origin}/`) || request.startsWith('blob:') || request.startsWith('data:')) return route.continue();
    outside.push(request);
    return route.abort();
  });
  const errors = [];
  let failed;
  const failure = new Promise((resolve) => { failed = resolve; });
  const error = (text) => {
    errors.push(text);
    setTimeout(failed, 2000); // a page that failed may not finish: stop waiting soon after
  };
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') error(msg.text());
  });
  page.on('pageerror', (e) => error(String(e)));
  page.on('request', (r) => requests.push(r.url()));
  page.on('requestfailed', (r) => error(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('response', (r) => {
    if (r.status() >= 400) error(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(url);
  await Promise.race([
    page.waitForFunction(() => window.consumer && window.consumer.status !== 'running', null, { timeout: 120_000 }),
    failure,
  ]);
  const report = (await page.evaluate(() => window.consumer)) ?? { status: 'no report' };
  const shown = await page.textContent('#result');
  await context.close();
  return { report, shown, errors, outside, requests: [...new Set(requests)] };
}

function checkReport({ report, shown, errors, outside, requests }, origin, code, label) {
  assert.deepEqual(errors, [], `${label}: no console error`);
  assert.equal(report.status, 'done', `${label}: ${report.error ?? JSON.stringify(report)}`);
  assert.deepEqual(outside, [], `${label}: no request outside ${origin}`);
  assert.ok(Array.isArray(report.hits) && report.hits.length > 0, `${label}: the quick start found hits`);
  for (const hit of report.hits) assert.ok(typeof hit.id === 'string' && Number.isFinite(hit.score), `${label}: a hit is { id, score, payload }`);
  if (code.includes('image: files[0]')) {
    assert.equal(report.hits[0].id, 'beach.png', `${label}: the query image is its own best hit`);
    assert.ok(report.hits[0].score > 0.999, `${label}: scored as itself`);
  }
  if (code.includes("'cat.jpg'")) {
    assert.equal(report.hits[0].id, 'cat.jpg', `${label}: the quick start's item is the best hit`);
    assert.deepEqual(report.hits[0].payload, { album: 'pets' }, `${label}: with its payload`);
  }
  assert.ok(shown.includes('"status": "done"'), `${label}: the page shows the result`);
  // The default models load from the package's own weights, each download reporting bytes of total.
  assert.equal(report.textDim, report.text.dim, `${label}: a text vector of the model's width`);
  assert.equal(report.imageDim, report.image.dim, `${label}: an image vector of the model's width`);
  const names = Object.keys(report.downloads).map((f) => f.replace(/-[\w-]{8}(?=\.)/, '')).sort(); // Vite hashes names
  assert.deepEqual(names, ['minilm.int8.safetensors', 'minilm.tokenizer.json', 'mobilenet_v2.int8.safetensors', 'mobilenet_v2.whitening.safetensors'],
    `${label}: a download progress for each default file`);
  for (const p of Object.values(report.downloads)) {
    assert.equal(p.status, 'download');
    assert.ok(p.loaded > 0 && p.loaded === p.total, `${label}: ${p.file} complete: ${p.loaded} of ${p.total}`);
  }
  assert.equal(report.downloads[Object.keys(report.downloads).find((f) => f.startsWith('minilm.int8'))].total, report.text.bytes);
  assert.equal(report.trained.steps, 5, `${label}: the trainer module trained`);
  for (const m of ['simil_search', 'simil_model', 'simil_train']) {
    assert.ok(requests.some((r) => new RegExp(`${m}_bg[-\\w]*\\.wasm$`).test(r)), `${label}: ${m}_bg.wasm was fetched`);
  }
}

test('the npm package: packed, installed with npm, built with Vite and served bare, runs the README quick start', { timeout: 600_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'simil-consumer-'));
  const log = (line) => console.log(line); // under node --test, printed as TAP comments
  let server;
  let browser;
  try {
    // ---- npm pack: exactly the files the API needs, ≤ 30 MB ----
    const packed = await sh('npm', ['pack', '--json', '--pack-destination', work], PKG, 'npm pack');
    const [info] = JSON.parse(packed.stdout);
    const files = info.files.map((f) => f.path).sort();
    log(`tarball ${info.filename}: ${info.size} bytes (${(info.size / 1048576).toFixed(1)} MiB), ${info.unpackedSize} unpacked, ${files.length} files`);
    for (const f of info.files) log(`  ${String(f.size).padStart(9)}  ${f.path}`);
    assert.deepEqual(files, EXPECTED_FILES, 'the tarball holds exactly the files the API needs');
    assert.ok(info.size <= MAX_TARBALL, `the tarball is ${info.size} bytes, over ${MAX_TARBALL}`);
    await mkdir(join(ROOT, 'tests/out'), { recursive: true });
    const record = { tarball_bytes: info.size, unpacked_bytes: info.unpackedSize, files, consumer_test: 'fail' };
    await writeFile(join(ROOT, 'tests/out/consumer.json'), `${JSON.stringify(record, null, 2)}\n`);

    // ---- A user's project, outside the repo: the template, the tarball, npm install, vite build ----
    const project = join(work, 'project');
    await cp(TEMPLATE, project, { recursive: true });
    await cp(join(work, info.filename), join(project, 'simil.tgz'));
    const code = await quickStart();
    await writeFile(join(project, 'quickstart.js'), quickStartModule(code));
    const installed = await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], project, 'npm install');
    log(`npm install (tarball + vite): ${installed.seconds.toFixed(1)} s`);
    const built = await sh(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'], project, 'vite build');
    log(`vite build: ${built.seconds.toFixed(1)} s`);
    assert.doesNotMatch(built.stdout + built.stderr, /warn|error/i, `vite build is clean:\n${built.stdout}${built.stderr}`);

    browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });

    // ---- Bundled: dist/ from vite build, served at the root (Vite's default base) ----
    server = await startServer({ root: join(project, 'dist') });
    let origin = server.url;
    const bundled = await runPage(browser, origin, `${origin}/index.html`);
    log(`Vite build: hits ${JSON.stringify(bundled.report.hits?.map((h) => h.id))}, ${bundled.requests.length} requests`);
    await server.close();
    server = null;
    checkReport(bundled, origin, code, 'Vite build');

    // ---- No bundler: the installed package served as it is, through an importmap ----
    server = await startServer({ root: project });
    origin = server.url;
    const bare = await runPage(browser, origin, `${origin}/static.html`);
    log(`no bundler: hits ${JSON.stringify(bare.report.hits?.map((h) => h.id))}, ${bare.requests.length} requests`);
    checkReport(bare, origin, code, 'no bundler');
    assert.ok(bare.requests.some((r) => r.startsWith(`${origin}/node_modules/simil/worker.js`)), 'the package itself was served');

    record.consumer_test = 'pass';
    await writeFile(join(ROOT, 'tests/out/consumer.json'), `${JSON.stringify(record, null, 2)}\n`);
  } finally {
    await browser?.close();
    await server?.close();
    if (process.env.KEEP) log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
});
