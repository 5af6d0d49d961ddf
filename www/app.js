// The simil demo: the sample emoji collection (built at build time, imported on the first
// visit), searched by words, by example and by a dropped image; your own photos embedded in the
// worker; near-duplicates, training, a map and your data. Every call goes through the package
// (../pkg/index.js), exactly as a user of it would write them; all heavy work runs in its worker.
import { open } from '../pkg/index.js';
import { $, card, el, fileThumbnail, fmtBytes, itemName, labelOf, setStatus, thumbnail } from './js/ui.js';
import { forget, listItems, labelsOf } from './js/items.js';
import { CLIP_PHOTOS, setUpPhotos } from './js/photos.js';
import { setUpDupes } from './js/dupes.js';
import { setUpTraining } from './js/train.js';
import { setUpMap } from './js/map.js';
import { setUpManage } from './js/manage.js';

const SAMPLE = 'emoji';
const K = 24;
const BROWSE = 120;
const VIA = {
  image: 'your image, through the image model',
  clip: 'words, through CLIP',
  aligner: 'words through the text→image aligner, fused with keywords (scores are fused ranks)',
  text: 'words, through the text model',
  keywords: 'keywords (BM25 over names, keywords, categories or folders)',
  vector: 'the item\'s vector',
};

const params = new URLSearchParams(location.search);
const ctx = {
  simil: null,
  name: SAMPLE,
  collection: null,
  busy: 0,
};

/** Runs `task`, showing `label` while it runs and any failure in the status line. */
ctx.run = async (label, task) => {
  ctx.busy++;
  if (label) setStatus(label, 'busy');
  try {
    return await task();
  } catch (e) {
    if (e?.name === 'AbortError') return undefined;
    console.warn(e);
    setStatus(`${label ? `${label.replace(/…$/, '')}: ` : ''}${e.message}`, 'error');
    return undefined;
  } finally {
    ctx.busy--;
    await ctx.refreshBadges();
    if (ctx.busy === 0 && $('status').dataset.state === 'busy') setStatus(await readyText(), 'ready');
  }
};

async function readyText() {
  const n = ctx.collection ? await ctx.collection.count() : 0;
  return `Ready · ${ctx.name}: ${n.toLocaleString('en')} items`;
}

ctx.refreshBadges = async () => {
  const backend = ctx.simil?.backend;
  $('backend').textContent = backend ? `models: ${backend === 'webgpu' ? 'WebGPU' : 'CPU'}` : 'models: not loaded';
  $('backend').dataset.backend = backend ?? '';
  try {
    const info = await ctx.simil.storage();
    const total = info.collections.reduce((n, c) => n + c.bytes, 0);
    $('storage').textContent = `storage: ${fmtBytes(total)} in ${info.kind.toUpperCase()}${info.persisted ? ' · kept' : ''}`;
    $('storage').title = `${info.collections.map((c) => `${c.name}: ${fmtBytes(c.bytes)}`).join(', ')}; origin usage ${fmtBytes(info.usage)} of ${fmtBytes(info.quota)}`;
  } catch {
    // the badge keeps its last value
  }
};

/**
 * The models a search or an add on collection `name` needs: the user's CLIP for "photos-clip"
 * (loaded again from the files picked, when another model replaced it), else the default models
 * (loading the default image model unloads CLIP; the text model then loads on first use).
 */
ctx.modelsFor = async (name) => {
  if (!ctx.simil.backend && !ctx.clipFiles) return; // nothing loaded yet: the defaults load by themselves
  const clip = (await ctx.simil.models()).image?.model === 'clip';
  if (name === CLIP_PHOTOS) {
    if (!ctx.clipFiles) throw new Error('pick your CLIP files again (“Use my CLIP weights”) to search this collection by image or words');
    if (!clip) await ctx.simil.loadClip(ctx.clipFiles);
  } else if (clip) {
    await ctx.simil.loadImageModel();
  }
};

/** Fills the collection picker and the label filter; selects `name`. */
ctx.switchTo = async (name) => {
  ctx.name = name;
  ctx.collection = await ctx.simil.collection(name);
  const names = await ctx.simil.listCollections();
  $('collection').replaceChildren(...names.map((n) => el('option', { value: n, text: n, selected: n === name })));
  await ctx.refreshFilter();
  const learned = (await ctx.collection.learnedFields()).some((f) => f.name === 'learned');
  $('use-learned').disabled = !learned;
  if (!learned) $('use-learned').checked = false;
  $('q').value = '';
  document.dispatchEvent(new CustomEvent('collectionchange', { detail: { name } }));
  await browse();
};

ctx.refreshFilter = async () => {
  const items = await listItems(ctx.collection);
  const photos = ctx.name !== SAMPLE && items.every((it) => it.payload?.category === undefined);
  $('filter-label').firstChild.textContent = photos ? 'Folder ' : 'Category ';
  const labels = labelsOf(items, labelOf);
  const keep = $('filter').value;
  $('filter').replaceChildren(el('option', { value: '', text: 'all' }),
    ...labels.map((l) => el('option', { value: l, text: l, selected: l === keep })));
  ctx.labelKey = photos ? 'folder' : 'category';
  ctx.trainKey = photos ? 'folder' : 'subcategory';
  $('label-source').textContent = ctx.trainKey;
};

/** Drops what is cached of the current collection (after adds, training, import). */
ctx.changed = async (name = ctx.name) => {
  forget(name);
  if (name === ctx.name) await ctx.refreshFilter();
};

const filter = () => ($('filter').value ? { eq: { field: ctx.labelKey, value: $('filter').value } } : undefined);

function showQuery(node, caption) {
  $('query-preview').replaceChildren(...(node ? [el('figure', {}, node, el('figcaption', { text: caption }))] : []));
}

function showHits(hits, summary) {
  $('summary').textContent = summary;
  $('results').replaceChildren(...hits.map((h) => card(h, (hit) => ctx.moreLikeThis(hit.id))));
  $('results').dataset.count = String(hits.length);
}

async function browse() {
  const items = await listItems(ctx.collection);
  const f = $('filter').value;
  const shown = items.filter((it) => !f || labelOf(it.payload) === f);
  showQuery(null);
  $('results').dataset.via = '';
  showHits(shown.slice(0, BROWSE), shown.length
    ? `${shown.length.toLocaleString('en')} items${shown.length > BROWSE ? `, the first ${BROWSE} shown` : ''}. Search by words, drop an image, or click one for more like it.`
    : 'This collection is empty: add photos below.');
}

function report(hits, what) {
  $('results').dataset.via = hits.via;
  showHits(hits, hits.length ? `${hits.length} results for ${what} · via ${hits.via}: ${VIA[hits.via] ?? hits.via}` : `Nothing found for ${what}.`);
}

const field = () => ($('use-learned').checked ? 'learned' : undefined);

ctx.moreLikeThis = (id, { reveal = false } = {}) => ctx.run('Searching…', async () => {
  const item = await ctx.collection.get(id);
  if (!item) return;
  const hits = await ctx.collection.search({ vector: item.vectors.image, field: field(), k: K, filter: filter() });
  showQuery(thumbnail(item.payload, 96), `more like ${itemName(item.payload)}`);
  report(hits, `“${itemName(item.payload)}”${field() ? ' (learned field)' : ''}`);
  if (reveal) $('search').scrollIntoView({ block: 'start' });
});

async function searchWords(text) {
  if (!text.trim()) return browse();
  const needsModel = !ctx.simil.backend;
  return ctx.run(needsModel ? 'Searching (loading the text model on first use)…' : 'Searching…', async () => {
    await ctx.modelsFor(ctx.name);
    const hits = await ctx.collection.search({ text, k: K, filter: filter() });
    showQuery(null);
    report(hits, `“${text}”`);
  });
}

ctx.searchImage = (file) => ctx.run('Embedding your image…', async () => {
  const preview = await fileThumbnail(file);
  await ctx.modelsFor(ctx.name);
  const hits = await ctx.collection.search({ image: file, k: K, filter: filter() });
  showQuery(preview, 'your image');
  report(hits, 'your image');
});

function setUpSearch() {
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    searchWords($('q').value);
  });
  $('browse').addEventListener('click', () => { $('q').value = ''; browse(); });
  $('filter').addEventListener('change', () => ($('q').value.trim() ? searchWords($('q').value) : browse()));
  $('collection').addEventListener('change', () => ctx.run('Opening…', () => ctx.switchTo($('collection').value)));
  $('query-file').addEventListener('change', () => {
    const [file] = $('query-file').files;
    if (file) ctx.searchImage(file);
    $('query-file').value = '';
  });
  const zone = $('query-drop');
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = [...(e.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/'));
    if (file) ctx.searchImage(file);
  });
  // A pasted image searches, unless the photos' drop zone has focus (then it is added).
  document.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (!files.length || document.activeElement === $('photo-drop')) return;
    e.preventDefault();
    ctx.searchImage(files[0]);
  });
}

async function main() {
  const backend = params.get('backend') ?? 'auto';
  ctx.simil = await open({ backend });
  setUpSearch();
  setUpPhotos(ctx);
  setUpDupes(ctx);
  setUpTraining(ctx);
  setUpMap(ctx);
  setUpManage(ctx);
  const names = await ctx.simil.listCollections();
  if (!names.includes(SAMPLE)) {
    setStatus('Loading the sample collection…', 'loading');
    const response = await fetch('./data/emoji.siml');
    if (!response.ok) throw new Error('the sample collection is missing (www/data/emoji.siml): build it with scripts/demo.sh');
    await ctx.simil.importCollection(SAMPLE, await response.blob());
  }
  const start = params.get('collection') ?? (names.includes('photos') && params.has('photos') ? 'photos' : SAMPLE);
  await ctx.switchTo((await ctx.simil.listCollections()).includes(start) ? start : SAMPLE);
  await ctx.refreshBadges();
  setStatus(await readyText(), 'ready');
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js', { scope: '../' }).then(keepForOffline).catch((e) => console.warn(e));
  }
}

/**
 * Once the service worker controls the page, fetches again (through it, so that it keeps them)
 * the page itself and every same-origin file the page loaded before it took control (its
 * modules, styles, pictures), then, a few at a time, the sample's other pictures: the demo then
 * works offline. simil keeps its own wasm and weights; collections live in OPFS.
 */
async function keepForOffline() {
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
  const seen = [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]
    .filter((url) => url.startsWith(`${location.origin}/`) && !/\.(wasm|safetensors|siml)(\?|$)/.test(url));
  await Promise.all(seen.map((url) => fetch(url).catch(() => null)));
  const names = await ctx.simil.listCollections();
  if (names.includes(SAMPLE)) {
    const files = (await listItems(await ctx.simil.collection(SAMPLE))).map((it) => new URL(`data/emoji/${it.payload.file}`, location.href).href);
    const queue = files.filter((url) => !seen.includes(url));
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (queue.length) await fetch(queue.pop()).catch(() => null);
    }));
  }
  document.documentElement.dataset.offline = 'kept';
}

main().catch((e) => {
  console.warn(e);
  setStatus(`simil could not start: ${e.message}`, 'error');
  document.querySelector('main').inert = true;
});
