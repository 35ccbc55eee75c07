// A site's model weights: the list `cargo xtask dist` writes (weights/models.json), and
// downloads with progress, kept in the Cache API under the file's content hash, so a second
// visit reads them from disk and a new file is never confused with an old one. Used by the
// page (app.js) and the API (api.js).

const CACHE = 'inception-weights-v1';

/** The models in `dir` (a URL ending in /): weights/models.json's entries, [] if none. */
export async function siteModels(dir) {
  try {
    const res = await fetch(new URL('models.json', dir), { cache: 'no-cache' });
    if (!res.ok) return [];
    return (await res.json()).models ?? [];
  } catch {
    return [];
  }
}

const openCache = () => ('caches' in self ? caches.open(CACHE).catch(() => null) : Promise.resolve(null));

const failure = (message) => Object.assign(new Error(message), { kind: 'weights' });

/**
 * The bytes of a models.json `entry` in `dir`, from the cache or downloaded (then cached);
 * `onProgress({loaded, total, cached})` follows the download. Returns {bytes, url}.
 */
export async function downloadWeights(entry, dir, onProgress = () => {}) {
  const url = new URL(`${entry.file}?v=${entry.hash}`, dir).href;
  const cache = await openCache();
  const cached = cache && await cache.match(url);
  if (cached) {
    onProgress({ loaded: entry.bytes, total: entry.bytes, cached: true });
    return { bytes: new Uint8Array(await cached.arrayBuffer()), url };
  }
  const bytes = await download(url, entry.bytes, entry.file, onProgress);
  await cache?.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } })).catch(() => {});
  return { bytes, url };
}

/** Removes a cached weights file (one that turned out not to load). */
export async function forgetWeights(url) {
  await (await openCache())?.delete(url);
}

/**
 * Downloads `url` with progress. `expected` is the size models.json gives, not
 * Content-Length: a host that compresses the file announces the compressed length while
 * the body is read decompressed.
 */
export async function download(url, expected, name, onProgress = () => {}) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw failure(`The weights download failed (${e.message}). Check the connection and reload.`);
  }
  if (!res.ok) throw failure(`The weights file ${name} could not be downloaded (HTTP ${res.status}).`);
  const encoded = res.headers.get('content-encoding');
  const total = expected || (!encoded && Number(res.headers.get('content-length'))) || 0;
  if (!total) return new Uint8Array(await res.arrayBuffer()); // size unknown: no progress
  const bytes = new Uint8Array(total);
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > bytes.length) throw failure(`The weights file ${name} is larger than announced.`);
    bytes.set(value, loaded);
    loaded += value.length;
    onProgress({ loaded, total, cached: false });
  }
  return loaded === total ? bytes : bytes.slice(0, loaded);
}
