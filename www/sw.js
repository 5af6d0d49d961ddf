// The demo's service worker: after a first visit the demo opens with the network cut. The page
// registers it with scope "../" (the folder holding www/ and pkg/; scripts/serve.mjs allows it
// with a `Service-Worker-Allowed` header), so that simil's worker (pkg/worker.js), whose own
// fetches a scope of www/ alone would not see, is controlled too.
//
//  * Pages (navigations): network first, so a new version arrives; the cached copy offline.
//  * Every other same-origin GET: cache first (the page's JS/CSS, www/data/*, pkg/*), fetched
//    and kept on a miss. A request that asks to revalidate (`cache: 'no-cache'`, as pkg/cache.js
//    asks for its manifest and .sha256 files) goes to the network first.
//  * The wasm modules and model weights are left to simil (pkg/cache.js keeps them in its own
//    cache, checked against their SHA-256), so they are not stored twice.
// When the browser says it is offline the network is not tried at all. The cache's name carries
// VERSION: change it to make returning visitors fetch everything again; activate drops the
// caches of other versions.
const VERSION = 'v1';
const CACHE = `simil-demo-${VERSION}`;
const ROOT = new URL('../', self.location.href).href;

// Fetched at install, so that a second visit works offline even when the first visit loaded
// these before this service worker took control. Missing files are skipped.
const PRECACHE = [
  'www/', 'www/app.js', 'www/style.css', 'www/favicon.svg',
  ...['dupes', 'items', 'manage', 'map', 'pca', 'photos', 'train', 'ui', 'unionfind'].map((m) => `www/js/${m}.js`),
  'pkg/index.js', 'pkg/protocol.js', 'pkg/worker.js', 'pkg/store.js', 'pkg/cache.js', 'pkg/device.js', 'pkg/pool.js', 'pkg/model-worker.js', 'pkg/pixels.js', 'pkg/build-worker.js',
  'pkg/wasm/simil_search.js', 'pkg/wasm/simil_model.js', 'pkg/wasm/simil_train.js', 'pkg/wasm/manifest.json',
].map((path) => new URL(path, ROOT).href);

/** The files pkg/cache.js keeps itself: wasm modules and weights (not their .sha256). */
const simils = (url) => url.startsWith(ROOT) && /^pkg\/(wasm\/[^/]+\.wasm|weights\/.+(?<!\.sha256))$/.test(url.slice(ROOT.length));

const offline = () => self.navigator.onLine === false;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(PRECACHE.map(async (url) => {
      if (await cache.match(url)) return;
      try {
        const response = await fetch(url, { cache: 'no-cache' });
        if (response.ok) await cache.put(url, response);
      } catch {
        // offline, or not there: cached at its first use instead
      }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('simil-demo-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

/** The network's answer, kept in the cache when it is a whole, successful one. */
async function fetchAndKeep(request) {
  const response = await fetch(request);
  if (response.ok && response.status === 200 && response.type === 'basic') {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(request, copy)).catch(() => {});
  }
  return response;
}

async function networkFirst(request) {
  if (!offline()) {
    try {
      return await fetchAndKeep(request);
    } catch (e) {
      const cached = await caches.match(request, { cacheName: CACHE });
      if (cached) return cached;
      throw e;
    }
  }
  return (await caches.match(request, { cacheName: CACHE })) ?? Response.error();
}

async function cacheFirst(request) {
  const cached = await caches.match(request, { cacheName: CACHE });
  if (cached) return cached;
  if (offline()) return Response.error();
  return fetchAndKeep(request);
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || !request.url.startsWith(ROOT) || request.headers.has('range') || simils(request.url)) return;
  if (request.mode === 'navigate' || request.cache === 'no-cache' || request.cache === 'reload') {
    event.respondWith(networkFirst(request));
  } else {
    event.respondWith(cacheFirst(request));
  }
});
