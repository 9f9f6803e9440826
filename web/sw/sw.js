// The service worker: after one visit the app opens, classifies and generates without a network.
// `vite build` (vite.config.ts, offlinePlugin) writes it to dist/sw.js with the list of the
// build's files and a version that changes with their contents.
//
// - The app's own files (HTML, JavaScript, CSS, WebAssembly, icons, example photos, the models'
//   manifest.json) are stored at install, in a cache named after this version; older versions'
//   caches are deleted once this one is active.
// - Hashed build files (assets/) come from the cache first (their names change with their contents).
// - The page itself, models/manifest.json and the other unhashed files come from the network
//   first, so a new version or new models are seen at once, and from the cache when offline.
// - Model files (*.onnx) are not touched here: the app keeps them in its own cache, keyed by
//   sha256 and checked against the manifest on every load (src/engine/modelStore.ts).
// - Responses are stored with their headers, so a page served from the cache keeps the server's
//   COOP/COEP headers and stays cross-origin isolated (multi-threaded WebAssembly).

const VERSION = '__TINYCATS_VERSION__';
const FILES = __TINYCATS_FILES__;
const CACHE = `tinycats-app-${VERSION}`;
const PREFIX = 'tinycats-app-';

const scopeUrl = (path) => new URL(path, self.registration.scope).href;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(['./', ...FILES].map((f) => new Request(scopeUrl(f), { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  const res = await fetch(request);
  if (res.ok && res.type === 'basic') await cache.put(request, res.clone());
  return res;
}

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(request);
    if (res.ok && res.type === 'basic') await cache.put(key ?? request, res.clone());
    return res;
  } catch (e) {
    const hit = await cache.match(key ?? request, { ignoreSearch: true });
    if (hit) return hit;
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || !req.url.startsWith(self.registration.scope)) return;
  const path = url.pathname.slice(new URL(self.registration.scope).pathname.length);
  if (path.endsWith('.onnx')) return;
  if (req.mode === 'navigate') {
    // every address of the app is the same page (hash routing)
    event.respondWith(networkFirst(req, scopeUrl('./')));
  } else if (path.startsWith('assets/')) {
    event.respondWith(cacheFirst(req));
  } else {
    event.respondWith(networkFirst(req));
  }
});
