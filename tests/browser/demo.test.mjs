// The demo (www/), one test per flow a visitor goes through, each in a fresh browser context
// (its own origin storage) on the CPU backend: the sample emoji collection loads and answers
// words; more like this; a query image picked, dropped or pasted; your own photos (two folders)
// with progress, and a cancel; near-duplicates with the slider; training with its loss curve and
// before/after metrics; the map; export and import; a reload keeps the collections; and a clear
// message when the engine cannot start. Each flow saves tests/out/screens/<flow>.png, and fails
// on a console error (a CSP violation is one: the server sends scripts/serve.mjs's CSP) or on any
// request outside the page's origin.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSP } from '../../scripts/serve.mjs';
import { launch, ROOT } from './harness.mjs';

const SCREENS = new URL('tests/out/screens/', ROOT).pathname;
const EMOJI = new URL('www/data/emoji/', ROOT).pathname;
// Emoji drawings standing in for photos, in two folders.
const FACES = ['1f600', '1f603', '1f604', '1f601', '1f606', '1f605', '1f923', '1f602'];
const ANIMALS = ['1f435', '1f412', '1f98d', '1f436', '1f415', '1f429', '1f43a', '1f98a'];
let photoRoot;

const env = {};
before(async () => {
  await mkdir(SCREENS, { recursive: true });
  photoRoot = await mkdtemp(join(tmpdir(), 'simil-demo-'));
  for (const [folder, ids] of [['faces', FACES], ['animals', ANIMALS]]) {
    await mkdir(join(photoRoot, 'album', folder), { recursive: true });
    for (const id of ids) await cp(join(EMOJI, `${id}.png`), join(photoRoot, 'album', folder, `${id}.png`));
  }
  // A bigger folder to cancel: 160 emoji.
  await mkdir(join(photoRoot, 'many', 'set'), { recursive: true });
  const list = JSON.parse(await readFile(new URL('node_modules/emoji-datasource-google/emoji.json', ROOT), 'utf8'));
  for (const e of list.filter((r) => r.has_img_google).slice(0, 160)) await cp(join(EMOJI, e.image), join(photoRoot, 'many', 'set', e.image));
  // Served as `node scripts/serve.mjs` serves the demo: under its strict CSP (a violation is a
  // console error).
  Object.assign(env, await launch({ headers: { 'content-security-policy': CSP } }));
});
after(async () => {
  await env.close?.();
  await rm(photoRoot, { recursive: true, force: true });
});

/** The demo in a fresh context: its errors and every request that left the origin are recorded. */
async function demo(path = '/www/?backend=cpu') {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(90_000); // the CPU backend on a busy 2-core machine
  const errors = [];
  const outside = [];
  const requests = [];
  page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  context.on('request', (r) => {
    const url = r.url();
    requests.push(url);
    if (!url.startsWith(`${env.url}/`) && !url.startsWith('blob:') && !url.startsWith('data:')) outside.push(url);
  });
  await page.goto(env.url + path);
  await ready(page);
  return {
    page, context, requests,
    async finish(flow) {
      await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 10_000 });
      await page.screenshot({ path: `${SCREENS}${flow}.png`, fullPage: true });
      assert.deepEqual(errors, [], 'console errors');
      assert.deepEqual(outside, [], 'requests outside the origin');
      await context.close();
    },
  };
}

async function ready(page, timeout = 60_000) {
  await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout });
  assert.equal(await page.getAttribute('#status', 'data-state'), 'ready', await page.textContent('#status'));
}

/** Waits until nothing runs (the status is back to ready) and returns the summary line. */
async function settled(page, timeout = 120_000) {
  await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('#status').dataset.state), null, { timeout });
  assert.equal(await page.getAttribute('#status', 'data-state'), 'ready', await page.textContent('#status'));
  return page.textContent('#summary');
}

const names = (page) => page.$$eval('#results .card .name', (n) => n.map((x) => x.textContent));

async function searchWords(page, words) {
  await page.fill('#q', words);
  await page.press('#q', 'Enter');
  await page.waitForFunction((w) => document.querySelector('#summary').textContent.includes(`“${w}”`), words, { timeout: 60_000 });
  return settled(page);
}

async function addPhotos(page, folder) {
  await page.setInputFiles('#pick-folder', join(photoRoot, folder));
  await page.waitForSelector('#ingest[data-state="done"], #ingest[data-state="cancelled"], #status[data-state="error"]', { timeout: 120_000 });
  await page.waitForFunction(() => document.querySelector('#collection').value === 'photos');
  await settled(page);
}

test('the sample collection shows at once and answers words', async () => {
  const started = Date.now();
  const { page, finish } = await demo();
  const openMs = Date.now() - started;
  assert.match(await page.textContent('#status'), /Ready · emoji: 1,911 items/);
  assert.equal(await page.locator('#results .card').count(), 120);
  assert.equal(await page.getAttribute('#results .card img', 'alt'), 'grinning face');
  assert.equal(await page.textContent('#backend'), 'models: not loaded');
  assert.match(await page.textContent('#storage'), /storage: [\d.]+ MB in OPFS/);
  const summary = await searchWords(page, 'heart');
  assert.match(summary, /^24 results for “heart” · via aligner/);
  const found = await names(page);
  assert.ok(found.slice(0, 10).every((n) => n.includes('heart')), found.join(', '));
  assert.equal(await page.textContent('#backend'), 'models: CPU');
  // A category filter narrows the words' hits.
  await page.selectOption('#filter', 'Animals & Nature');
  await settled(page);
  await searchWords(page, 'cat');
  assert.ok((await names(page)).slice(0, 3).some((n) => n.includes('cat')));
  console.log(`# page open → sample ready: ${openMs} ms`);
  // A phone's width: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll at 390 px');
  await page.screenshot({ path: `${SCREENS}sample-mobile.png` });
  await page.setViewportSize({ width: 1280, height: 900 });
  await finish('sample-words');
});

test('a click on a result shows more like it', async () => {
  const { page, finish } = await demo();
  const name = await page.textContent('#results .card[data-id="1f60d"] .name');
  assert.equal(name, 'smiling face with heart-shaped eyes');
  await page.click('#results .card[data-id="1f60d"]');
  await page.waitForFunction((n) => document.querySelector('#summary').textContent.includes(`“${n}”`), name);
  const summary = await settled(page);
  assert.equal(summary, `24 results for “${name}” · via vector: the item's vector`);
  assert.equal(await page.textContent('#query-preview figcaption'), `more like ${name}`);
  assert.equal(await page.getAttribute('#results .card:first-child', 'data-id'), '1f60d');
  assert.equal(await page.textContent('#results .card:first-child .score'), '1.000');
  assert.equal(await page.textContent('#backend'), 'models: not loaded', 'no model for a search by vector');
  // Keyboard: Tab to the next card and Enter.
  await page.focus('#results .card:nth-child(2)');
  const second = await page.getAttribute('#results .card:nth-child(2)', 'data-id');
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelector('#results .card:first-child')?.dataset.id === id && document.querySelector('#status').dataset.state === 'ready', second);
  await finish('more-like-this');
});

test('a query image searches by example: picked, dropped and pasted', async () => {
  const { page, finish } = await demo();
  await page.setInputFiles('#query-file', join(EMOJI, '1f436.png')); // dog face
  await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('your image'), null, { timeout: 60_000 });
  assert.match(await settled(page), /^24 results for your image · via image/);
  assert.equal(await page.getAttribute('#results .card:first-child', 'data-id'), '1f436');
  assert.equal(await page.getAttribute('#query-preview canvas', 'aria-label'), '1f436.png');
  const bytes = [...(await readFile(join(EMOJI, '1f680.png')))]; // rocket
  for (const how of ['drop', 'paste']) {
    await page.evaluate(async ({ bytes, how }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], `rocket-${how}.png`, { type: 'image/png' }));
      document.querySelector('#summary').textContent = '';
      if (how === 'drop') document.querySelector('#query-drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      else document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, { bytes, how });
    await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('your image'), null, { timeout: 60_000 });
    await settled(page);
    assert.equal(await page.getAttribute('#results .card:first-child', 'data-id'), '1f680', how);
    assert.equal(await page.getAttribute('#query-preview canvas', 'aria-label'), `rocket-${how}.png`);
  }
  await finish('query-image');
});

test('your own photos: a folder embedded with progress, searchable by folder; a cancel keeps what was added', async () => {
  const { page, finish } = await demo();
  const progress = [];
  await page.exposeFunction('noteProgress', (t) => progress.push(t));
  await page.evaluate(() => new MutationObserver(() => window.noteProgress(document.querySelector('#ingest-text').textContent))
    .observe(document.querySelector('#ingest-text'), { childList: true, characterData: true, subtree: true }));
  await addPhotos(page, 'album');
  assert.ok(progress.some((t) => /^\d+ of 16 photos · [\d.]+ per second · \d+ s left$/.test(t)), progress.join('\n'));
  assert.match(await page.textContent('#ingest-text'), /^Added 16 photos in [\d.]+ s/);
  assert.match(await page.textContent('#status'), /Ready · photos: 16 items/);
  assert.deepEqual(await page.$$eval('#filter option', (o) => o.map((x) => x.value)), ['', 'animals', 'faces']);
  assert.match(await page.textContent('#filter-label'), /^Folder /);
  assert.equal(await page.getAttribute('#results .card canvas', 'role'), 'img');
  // By example within a folder: a face finds faces.
  await page.selectOption('#filter', 'faces');
  await settled(page);
  await page.click('#results .card:first-child');
  await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('more like') || /results for/.test(document.querySelector('#summary').textContent));
  await settled(page);
  assert.equal(await page.locator('#results .card').count(), 8);
  // Words: the file and folder names.
  await page.selectOption('#filter', '');
  await settled(page);
  assert.match(await searchWords(page, 'animals'), /via keywords/);
  assert.equal(await page.locator('#results .card').count(), 8);
  // One photo dropped on the photos' zone, one pasted while it has focus.
  const bytes = [...(await readFile(join(EMOJI, '1f680.png')))];
  for (const how of ['drop', 'paste']) {
    await page.evaluate(async ({ bytes, how }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], `rocket-${how}.png`, { type: 'image/png' }));
      const zone = document.querySelector('#photo-drop');
      zone.focus();
      document.querySelector('#ingest').dataset.state = '';
      if (how === 'drop') zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      else document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, { bytes, how });
    await page.waitForSelector('#ingest[data-state="done"]');
    await settled(page);
  }
  assert.match(await page.textContent('#status'), /Ready · photos: 18 items/);
  assert.deepEqual((await page.$$eval('#filter option', (o) => o.map((x) => x.value))).sort(), ['', 'animals', 'dropped', 'faces', 'pasted']);
  await page.screenshot({ path: `${SCREENS}photos.png`, fullPage: true });

  // A bigger folder, cancelled once it is under way.
  await page.setInputFiles('#pick-folder', join(photoRoot, 'many'));
  await page.waitForFunction(() => Number(document.querySelector('#ingest-progress').value) > 0, null, { timeout: 60_000 });
  await page.click('#ingest-cancel');
  await page.waitForSelector('#ingest[data-state="cancelled"]', { timeout: 60_000 });
  await settled(page);
  const kept = Number((await page.textContent('#ingest-text')).match(/keeps (\d+) photos/)[1]);
  assert.ok(kept > 18 && kept < 178, `kept ${kept}`);
  assert.match(await page.textContent('#status'), new RegExp(`photos: ${kept} items`));
  await finish('photos-cancel');
});

test('your own CLIP: photos embedded through it, searched by words through it; the sample still answers', async () => {
  const { page, finish } = await demo();
  const clip = new URL('tests/fixtures/clip/', ROOT).pathname; // a tiny CLIPModel
  await page.setInputFiles('#clip-files', ['model.safetensors', 'config.json', 'vocab.json', 'merges.txt'].map((f) => join(clip, f)));
  await page.waitForSelector('#clip-status[data-state="loaded"]', { timeout: 60_000 });
  await settled(page);
  assert.match(await page.textContent('#clip-status'), /^Your CLIP is loaded \(\d+ dimensions, \d+ px\): photos you add now go to “photos-clip”/);
  await page.setInputFiles('#pick-folder', join(photoRoot, 'album'));
  await page.waitForSelector('#ingest[data-state="done"], #status[data-state="error"]', { timeout: 120_000 });
  await page.waitForFunction(() => document.querySelector('#collection').value === 'photos-clip');
  await settled(page);
  assert.match(await page.textContent('#status'), /photos-clip: 16 items/);
  assert.match(await searchWords(page, 'a photo of a dog'), /^16 results for “a photo of a dog” · via clip/);
  await page.screenshot({ path: `${SCREENS}clip.png`, fullPage: true });
  // Back on the sample, words go through its aligner again (the default models replace CLIP).
  await page.selectOption('#collection', 'emoji');
  await page.waitForFunction(() => /emoji: 1,911 items/.test(document.querySelector('#status').textContent));
  assert.match(await searchWords(page, 'rocket'), /via aligner/);
  assert.equal((await names(page))[0], 'rocket');
  // And photos-clip gets its CLIP back for words.
  await page.selectOption('#collection', 'photos-clip');
  await page.waitForFunction(() => /photos-clip: 16 items/.test(document.querySelector('#status').textContent));
  assert.match(await searchWords(page, 'faces'), /via clip/);
  await finish('clip');
});

test('near-duplicates: groups above the threshold the slider sets', async () => {
  const { page, finish } = await demo();
  await page.click('#find-dupes');
  await page.waitForFunction(() => document.querySelector('#dupe-groups').dataset.groups !== undefined, null, { timeout: 120_000 });
  await settled(page);
  const at90 = Number(await page.getAttribute('#dupe-groups', 'data-groups'));
  assert.ok(at90 > 5, `groups at 0.90: ${at90}`);
  assert.match(await page.textContent('#dupes-summary'), /^\d+ groups \(\d+ items\) at similarity ≥ 0\.90/);
  await page.fill('#dupe-threshold', '0.97');
  await page.waitForFunction(() => document.querySelector('#dupes-summary').textContent.includes('0.97'));
  await settled(page);
  const at97 = Number(await page.getAttribute('#dupe-groups', 'data-groups'));
  assert.ok(at97 < at90, `${at97} groups at 0.97, ${at90} at 0.90`);
  await page.fill('#dupe-threshold', '0.85');
  await page.waitForFunction(() => document.querySelector('#dupes-summary').textContent.includes('0.85'), null, { timeout: 120_000 });
  await settled(page);
  await page.locator('#dupes').scrollIntoViewIfNeeded();
  await finish('near-duplicates');
});

test('label & train: a live loss curve, before/after metrics, then search the learned field', async () => {
  const { page, finish } = await demo();
  assert.equal(await page.textContent('#label-source'), 'subcategory');
  const progress = [];
  await page.exposeFunction('noteProgress', (t, curve) => progress.push([t, curve]));
  await page.evaluate(() => new MutationObserver(() => window.noteProgress(document.querySelector('#train-status').textContent, !document.querySelector('#loss-curve').hasAttribute('hidden')))
    .observe(document.querySelector('#train-status'), { childList: true, characterData: true, subtree: true }));
  await page.fill('#train-steps', '200');
  await page.click('#train-start');
  await page.waitForSelector('#train-status[data-state="trained"], #train-status[data-state="kept"], #train-status[data-state="error"]', { timeout: 180_000 });
  const live = progress.filter(([t]) => /^step \d+ of 200 · loss \d+\.\d{3}$/.test(t));
  assert.ok(live.length >= 5 && live.every(([, curve]) => curve), `live progress with the curve shown: ${progress.map(([t]) => t).join(' | ')}`);
  const text = await page.textContent('#train-status');
  assert.equal(await page.getAttribute('#train-status', 'data-state'), 'trained', text);
  await settled(page);
  assert.match(text, /^Trained 200 steps in [\d.]+ s on cpu, \d+ labels \(subcategory\)\. Tick/);
  assert.equal(await page.getAttribute('#loss-curve', 'data-points'), '200');
  assert.match(await page.textContent('#metrics caption'), /^Retrieval: \d+ held-out items, by subcategory, 10 nearest$/);
  const rows = await page.$$eval('#metrics tbody tr', (r) => r.map((x) => [...x.children].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => r[0]), ['before: image', 'after: learned']);
  const [before, after] = rows.map((r) => r.slice(1).map(Number));
  assert.ok(after[0] > before[0] && after[1] > before[1], `precision@10 and mAP@R: before ${before}, after ${after}`);
  await page.check('#use-learned');
  await page.click('#results .card[data-id="1f60d"]');
  await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('(learned field)'));
  await settled(page);
  assert.equal(await page.getAttribute('#results .card:first-child', 'data-id'), '1f60d');
  console.log(`# training: ${text} ${JSON.stringify(rows)}`);
  await page.locator('#train').scrollIntoViewIfNeeded();
  await finish('train');
});

test('the map: hover shows an item, a click searches from it', async () => {
  const { page, finish } = await demo();
  await page.click('#draw-map');
  await page.waitForSelector('#map[data-points="1911"]', { timeout: 120_000 });
  await settled(page);
  const box = await page.locator('#map').boundingBox();
  let hit = null;
  for (let y = 0.3; y <= 0.7 && !hit; y += 0.02) {
    for (let x = 0.3; x <= 0.7 && !hit; x += 0.02) {
      await page.mouse.move(box.x + box.width * x, box.y + box.height * y);
      if (await page.isVisible('#map-tip')) hit = { x, y };
    }
  }
  assert.ok(hit, 'hovering the map shows an item');
  assert.ok(await page.getAttribute('#map-tip img', 'alt'));
  assert.ok((await page.$$('#map-legend li')).length === 10);
  await page.locator('#map-section').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENS}map.png` });
  await page.mouse.click(box.x + box.width * hit.x, box.y + box.height * hit.y);
  await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('more like') || /results for “/.test(document.querySelector('#summary').textContent));
  assert.match(await settled(page), /via vector/);
  await finish('map-click');
});

test('export and import a collection', async () => {
  const { page, finish } = await demo();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  assert.equal(download.suggestedFilename(), 'emoji.siml');
  const file = join(photoRoot, 'exported.siml');
  await download.saveAs(file);
  await settled(page);
  assert.match(await page.textContent('#manage-status'), /^Exported “emoji” \([\d.]+ MB\) as emoji\.siml\.$/);
  await page.setInputFiles('#import', file);
  await page.waitForFunction(() => document.querySelector('#collection').value === 'exported');
  await settled(page);
  assert.match(await page.textContent('#manage-status'), /^Imported exported\.siml as “exported” \(1,911 items\)\.$/);
  assert.deepEqual(await page.$$eval('#collection option', (o) => o.map((x) => x.value)), ['emoji', 'exported']);
  await searchWords(page, 'rocket');
  assert.equal((await names(page))[0], 'rocket');
  await finish('export-import');
});

test('a reload keeps the collections and answers the same, online and offline', async () => {
  const { page, context, requests, finish } = await demo();
  await addPhotos(page, 'album');
  await page.click('#results .card:first-child');
  await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('results for'));
  await settled(page);
  const hits = () => page.$$eval('#results .card', (c) => c.map((x) => x.dataset.id + x.querySelector('.score').textContent));
  const before = await hits();
  assert.equal(before.length, 16);
  // The service worker has kept the page and the sample's pictures: offline first, then online.
  await page.waitForSelector('html[data-offline="kept"]', { timeout: 60_000 });
  for (const offline of [true, false]) {
    await context.setOffline(offline);
    await page.reload();
    await ready(page);
    assert.deepEqual(await page.$$eval('#collection option', (o) => o.map((x) => x.value)), ['emoji', 'photos']);
    await page.selectOption('#collection', 'photos');
    await page.waitForFunction(() => /photos: 16 items/.test(document.querySelector('#status').textContent));
    await page.click('#results .card:first-child');
    await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('results for'));
    await settled(page);
    assert.deepEqual(await hits(), before, offline ? 'offline' : 'online');
    assert.match(await searchWords(page, 'faces'), /^8 results for “faces” · via keywords/);
    if (offline) await page.screenshot({ path: `${SCREENS}reload-offline.png` });
    await page.selectOption('#collection', 'emoji');
    await page.waitForFunction(() => /emoji: 1,911 items/.test(document.querySelector('#status').textContent));
    await page.click('#results .card[data-id="1f60d"]');
    await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('heart-shaped eyes'));
    await settled(page);
    // Every picture shown came from the cache (a missing one would be a console error).
    assert.ok(await page.$$eval('#results img', (imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0)));
  }
  assert.equal(requests.filter((u) => u.endsWith('/www/data/emoji.siml')).length, 1, 'the sample is fetched once, on the first visit');
  await finish('reload');
});

test('the demo says clearly when the engine cannot start', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.url}/www/?backend=webgpu-please`);
  await page.waitForSelector('#status[data-state="error"]', { timeout: 60_000 });
  assert.match(await page.textContent('#status'), /simil could not start: unknown backend/);
  await page.screenshot({ path: `${SCREENS}error.png` });
  await context.close();
});

