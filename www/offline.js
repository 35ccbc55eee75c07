// The page's side of sw.js: registers it (after the first prediction, so that its caching
// never competes with the first visit's downloads) and reloads the page once when a new
// build's service worker takes over, so that the page runs on one build's files only.

const hadController = !!navigator.serviceWorker?.controller;
navigator.serviceWorker?.addEventListener('controllerchange', () => {
  // a first visit's worker taking control changes nothing; a new build's does
  if (hadController) location.reload();
});

// A new build's worker that installed but was left waiting is asked to take over (see sw.js).
navigator.serviceWorker?.getRegistration().then((registration) => {
  if (!registration) return;
  const activate = (worker) => worker?.postMessage({ skipWaiting: true });
  const whenInstalled = (worker) => worker?.addEventListener('statechange', () => {
    if (worker.state === 'installed') activate(worker);
  });
  activate(registration.waiting);
  whenInstalled(registration.installing);
  registration.addEventListener('updatefound', () => whenInstalled(registration.installing));
});

let registered = null;

/** Registers the service worker; `builds` are the wasm builds the page runs ('pkg/'...). */
export function keepForOffline(builds) {
  if (!('serviceWorker' in navigator)) return null;
  registered ??= navigator.serviceWorker.register('sw.js').then(async () => {
    const ready = await navigator.serviceWorker.ready;
    ready.active?.postMessage({ keep: builds });
  }).catch((e) => console.info('no offline copy of the page:', e.message));
  return registered;
}
