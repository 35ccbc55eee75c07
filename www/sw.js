// The service worker: the page works offline after one visit, and a new build never mixes
// with the old one. `cargo xtask dist` writes BUILD (a hash of the site's files) and the
// file lists below; each build keeps its files in a cache of its own, served cache-first,
// so a page runs on exactly one build's HTML, JavaScript and wasm. A changed sw.js (a new
// build) installs its cache beside the old one, takes over, and the page reloads once
// onto it (see offline.js); the old cache is then deleted.
//
// The weights are not here: the page keeps them in its own cache, keyed by content hash.

const BUILD = 'dev';
// the files every visit needs (paths relative to this script)
const SHELL = [];
// the engine's wasm builds (pkg/, pkg-threads/, pkg-threads-relaxed/), of which a page runs
// one (two where an isolated page's threads are blocked): cached when the page says which
const BUILDS = {};

const PREFIX = 'inception-shell-';
const CACHE = PREFIX + BUILD;
// what earlier builds' pages said they use, so that a new build caches the same at install
const KEPT = 'inception-kept';

const scoped = (path) => new URL(path, self.registration.scope).href;

async function keptDirs() {
  const kept = await (await caches.open(KEPT)).match(scoped('kept.json'));
  return kept ? kept.json() : [];
}

async function cacheFiles(paths) {
  const cache = await caches.open(CACHE);
  // no-cache: revalidated with the server (a 304 when the HTTP cache holds the same bytes)
  await cache.addAll(paths.map((p) => new Request(scoped(p), { cache: 'no-cache' })));
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const builds = (await keptDirs()).flatMap((dir) => BUILDS[dir] ?? []);
    await cacheFiles([...SHELL, ...builds]);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  // from offline.js, to a worker left waiting: Chromium sometimes leaves a new build's worker
  // waiting when the old one was busy as it installed, skipWaiting at install notwithstanding
  // (the browser test new_build_takes_over timed out so in 7 of 8 runs); asking again activates it
  if (event.data?.skipWaiting) return void self.skipWaiting();
  // {keep: ['pkg-threads-relaxed/']}: the builds this page runs
  const dirs = (event.data?.keep ?? []).filter((dir) => dir in BUILDS);
  if (!dirs.length) return;
  event.waitUntil((async () => {
    await cacheFiles(dirs.flatMap((dir) => BUILDS[dir]));
    const kept = [...new Set([...(await keptDirs()), ...dirs])];
    await (await caches.open(KEPT)).put(scoped('kept.json'), new Response(JSON.stringify(kept)));
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || !request.url.startsWith(self.registration.scope)) return;
  // a navigation within the scope is the page, whatever its query (?bench=, ?model=)
  const page = request.mode === 'navigate' && /\/(index\.html)?$/.test(new URL(request.url).pathname);
  const key = page ? scoped('index.html') : request.url;
  event.respondWith((async () => {
    const cached = await (await caches.open(CACHE)).match(key, { ignoreSearch: page });
    return isolated(cached ?? await fetch(request));
  })());
});

// Cross-origin isolation (wasm threads) on hosts that cannot send headers, GitHub Pages
// among them: the worker adds the two headers to what it serves, so that from the second
// visit on the page runs the CPU backend on every core there too.
function isolated(response) {
  if (response.type !== 'basic' || response.headers.has('cross-origin-embedder-policy')) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
