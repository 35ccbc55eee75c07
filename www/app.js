// The page: classifies camera frames or image files with the engine's API (api.js), on the
// GPU (WebGPU) or the CPU (WebAssembly SIMD), whichever measured faster on this device;
// without WebGPU on the CPU at once. This module is the page's wiring: the models and
// their loading, the camera loop, images, and the result on screen; the camera, the
// overlay, the top-5 list, the explorer, the messages and the measuring modes are modules
// of their own.
// Every URL is relative, so the folder works from any static host and any sub-path.
//
// Query parameters: ?bench=N[&warmup=W][&layers=1][&cam=1] runs the benchmark instead of
// the camera (bench.js); ?autotune=0 skips kernel tuning; ?model=NAME picks a model from
// weights/models.json; ?backend=gpu|cpu forces a backend; ?threads=N sets the CPU backend's
// threads (1: on the page's own thread); ?relaxed=0 keeps the threaded CPU backend off
// relaxed SIMD (whose fused multiply-adds round differently from the one-thread build's);
// ?inflight=1|2 sets the GPU frames in flight; ?soak=N[&warmup=W] runs N camera frames
// after W more (default 50) past the start-up work and reports the memory held before and
// after (JS heap, wasm memory, live GPU objects).

import { ready, load, wasmBuilds } from './api.js';
import { keepForOffline } from './offline.js';
import { fileProblem, fitWithin } from './images.js';
import { siteModels } from './weights.js';
import { Overlay } from './overlay.js';
import { Smoother } from './smoothing.js';
import { Explorer } from './explorer.js';
import { setStatus, showMessage, clearMessage } from './messages.js';
import { Turns } from './turns.js';
import { openCamera, cameras, listCameras } from './camera.js';
import { runBenchmark, runSoak } from './bench.js';
import { showTop, clearTop, markMapped, pickedClass } from './results.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const FORCED_BACKEND = ['gpu', 'cpu'].includes(params.get('backend')) ? params.get('backend') : null;
const BENCH = Number(params.get('bench'));
// how the page's classifiers are built (api.js's load options)
const ENGINE = {
  backend: FORCED_BACKEND ?? 'auto',
  threads: Number(params.get('threads')) || undefined,
  relaxed: params.get('relaxed') !== '0',
  autotune: params.get('autotune') !== '0',
  compute: ['auto', 'f32', 'int8'].includes(params.get('compute')) ? params.get('compute') : 'auto',
  // the benchmark reports the chosen backend's tuned speed, so measures before its first
  // run; elsewhere the first frames run at once and the measuring and tuning go on between
  // frames (afterFirstPrediction)
  start: BENCH > 0 ? 'measured' : 'fast',
};

const state = {
  classifier: null, // the classifier that runs (api.js)
  improved: new WeakSet(), // classifiers whose background measuring and tuning was started
  stream: null,
  running: false, // the camera loop is on
  turns: new Turns(() => { if (state.running) requestAnimationFrame(cameraLoop); }), // frames and exclusive work (turns.js)
  frameWaiters: [], // background work waiting for the next camera prediction (aFrameShown)
  starting: null, // the site model's first load (download and build)
  facing: 'environment',
  soaking: false, // the soak mode (?soak=N) is under way or done
  hiddenPause: false, // the camera loop stopped because the tab is hidden; resumes when shown
  cameraGone: false, // the camera's track ended (unplugged, permission withdrawn): waiting for one
  cams: false, // each pass computes the top-5's activation maps, and one is drawn over the image
  camClass: null, // the class whose map the user picked in the top-5 (else the top class's)
  overlay: null, // the crop outline and activation map over the stage (overlay.js)
  smooth: true, // camera probabilities averaged over recent frames (smoothing.js)
  smoother: new Smoother(),
  lastShown: null, // { top, image } of the result on screen, to draw again
  explorer: null, // the panel inside the network (explorer.js)
  loading: null, // the last model load asked for (loadClassifier), which images picked meanwhile wait for
  picked: null, // the site model the picker shows
  loadMs: null, // navigation to the first model built, for the benchmark
  settled: null, // resolves once the first model's background work is done (for the soak)
};

// What happened when, in milliseconds since navigation: read by `cargo xtask bench-web
// --first-visit` (engine, cpu, gpu, weights, built, first_frame, measured, tuned, settled:
// every background step after the first frame done).
const timeline = (window.__timeline = {});
const mark = (name) => { timeline[name] ??= Math.round(performance.now()); };
let settle;
state.settled = new Promise((resolve) => { settle = resolve; });

const mb = (bytes) => (bytes / 1e6).toFixed(1);

/** Runs `work` with the classifier, and the cores, to itself (turns.js). */
const exclusive = (work) => state.turns.exclusive(work);

function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

// ---------- models ----------

/** The loading status, from load()'s progress reports. */
function progressShown(title) {
  return ({ phase, loaded, total, cached }) => {
    if (phase === 'download') {
      if (cached) setStatus(`Reading ${title} from the cache…`);
      else setStatus(`Downloading ${title}… ${mb(loaded)} of ${mb(total)} MB`, loaded / total);
      return;
    }
    if (phase === 'build') mark('weights');
    const words = { build: 'Checking the weights…', compile: 'Compiling shaders…', measure: 'Measuring the GPU and the CPU…', tune: 'Tuning the kernels for this GPU (once)…' };
    setStatus(words[phase]);
  };
}

// Every model asked for (the site's on start, one picked, a file) takes a ticket when asked
// for; a load that finishes after a later-asked one has replaced the classifier is dropped:
// a file picked while the site's model still downloads stays the one that runs (and if
// that file fails, the site's model still comes).
let modelRequests = 0;
let runningTicket = 0; // the ticket of the model that runs
const requestModel = () => ++modelRequests;
const superseded = () => Object.assign(new Error('a later model replaced it'), { kind: 'superseded' });

/**
 * Loads a classifier (`options`: api.js's load options beyond the page's ENGINE) and makes
 * it the one that runs. `ticket`: requestModel()'s, taken when the model was asked for.
 * Rejects with kind 'superseded' where a later-asked model already runs, and as load() does.
 */
function loadClassifier(ticket, options) {
  // images picked meanwhile wait for the last one asked for (classifyFile)
  const loading = buildClassifier(ticket, options);
  const tracked = loading.finally(() => { if (state.loading === tracked) state.loading = null; });
  tracked.catch(() => {}); // the caller handles the failure
  state.loading = tracked;
  return loading;
}

async function buildClassifier(ticket, options) {
  if (ticket < runningTicket) throw superseded();
  const next = await load({ ...ENGINE, ...options });
  // the new model is valid: only now replace the current one (a bad file keeps it)
  return exclusive(async () => {
    if (ticket < runningTicket) {
      next.close();
      throw superseded();
    }
    runningTicket = ticket;
    state.classifier?.close();
    install(next);
    mark('built');
    clearMessage('weights');
    return next;
  });
}

/** Makes `next` the classifier that runs (within exclusive work). */
function install(next) {
  state.classifier = next;
  state.smoother.reset(); // another model's probabilities are not averaged in
  next.addEventListener('backendchange', () => { if (next === state.classifier) describeBackend(); });
  next.addEventListener('devicelost', (e) => { if (next === state.classifier) deviceLost(e.detail); });
  describeBackend();
  state.explorer?.changed(next);
}

/** Says which backend runs the classifier, and why. */
function describeBackend() {
  const clf = state.classifier;
  const gpu = clf.backend === 'gpu';
  $('model-title').textContent = `${clf.title} on ${gpu ? 'WebGPU' : 'the CPU'}`;
  const weights = clf.precision ? `; ${clf.precision} weights` : '';
  // on the CPU what it computes in comes first, as the CLI says it ("CPU: int8, ..."), and why
  const compute = gpu ? '' : `${clf.compute}, `;
  const why = gpu ? '' : `; ${clf.compute}: ${clf.computeReason}`;
  $('adapter').textContent = `${gpu ? 'GPU' : 'CPU'}: ${compute}${clf.device} (${clf.backendReason}${why})${weights}`;
  document.body.dataset.compute = clf.compute;
  document.body.dataset.precision = clf.precision ?? 'file';
  document.body.dataset.backend = clf.backend;
  // the GPU devices this page has run on, for the browser test of a lost device
  if (gpu && !document.body.dataset.devices) document.body.dataset.devices = 1;
}

/** Loads a site model; false where a later request replaced it before it was ready. */
async function loadSiteModel(entry, ticket = requestModel()) {
  try {
    await loadClassifier(ticket, { model: entry.model, onProgress: progressShown(entry.title) });
    return true;
  } catch (e) {
    if (e.kind === 'superseded') return false;
    throw e;
  }
}

// ---------- a lost GPU device ----------

/**
 * The classifier's GPU device was lost (a driver reset, a GPU switch, a phone reclaiming a
 * background tab's GPU): api.js builds the network again on a new device (or, after
 * several losses, on the CPU) while the camera waits, and the page says so.
 */
async function deviceLost({ reason, message, losses, toCpu, recovered }) {
  const lost = `The browser took the GPU away from this page (${reason || 'unknown reason'}${message ? ': ' + message : ''}).`;
  clearMessage('gpu'); // a frame that failed with the device says less than this
  showMessage('device-lost', 'The GPU device was lost', toCpu
    ? `${lost} It was lost ${losses} times within a minute: the CPU runs the network from now on.`
    : `${lost} Building the network again on a new device…`);
  let seconds;
  try {
    ({ seconds } = await exclusive(() => recovered));
  } catch (e) {
    state.running = false;
    showMessage('device-lost', 'The GPU device was lost', `${lost} It could not be replaced: ${e.message}`,
      { label: 'Reload', run: () => location.reload() });
    return;
  }
  if (toCpu) return; // the card stays: it says why the CPU runs
  document.body.dataset.devices = Number(document.body.dataset.devices || 0) + 1;
  const notice = showMessage('device-lost', 'The GPU device was lost', `${lost} It was replaced in ${seconds.toFixed(1)} s.`);
  setTimeout(() => notice.remove(), 6000); // this notice only: not a later loss's
}

// ---------- background work after the first prediction ----------

/**
 * Resolves once the camera has shown another prediction (at most a few seconds later), or
 * at the next paint when the camera is off: background work leaves frames room to run.
 */
function aFrameShown() {
  if (!state.running) return nextPaint();
  return new Promise((resolve) => {
    state.frameWaiters.push(resolve);
    setTimeout(resolve, 5000); // a frame that never comes (a failed camera) holds nothing up
  });
}

/**
 * Called with each camera prediction shown: lets background work waiting for a frame go on,
 * and after a classifier's first starts its measuring and tuning (api.js's improve), a
 * step between frames.
 */
function afterFirstPrediction() {
  state.frameWaiters.splice(0).forEach((resolve) => resolve());
  const clf = state.classifier;
  if (state.improved.has(clf)) return;
  state.improved.add(clf);
  keepForOffline(wasmBuilds()); // (once registered, the service worker stays)
  clf.improve({ between: aFrameShown })
    .catch((e) => console.info('background measuring stopped:', e.message))
    .finally(() => {
      if (clf.choice.gpuMs != null) mark('measured');
      if (clf.kernels?.tuneMs != null) mark('tuned');
      mark('settled');
      settle();
    });
}

// ---------- classifying ----------

/**
 * Classifies `source` (shown by `shown`, the element showing the image) and shows the
 * result; returns the pass's { ms, uploadMs, gpuMs }, ms end to end with the showing.
 */
async function classify(source, width, height, shown = $('still')) {
  const t0 = performance.now();
  const top = await state.classifier.classify(source, { cams: state.cams });
  const pass = state.classifier.lastPass;
  showResult(top, pass.gpuMs, performance.now() - t0, 'image', { shown, width, height });
  return { ...pass, ms: performance.now() - t0 };
}

/** Empties the result panel, so that an earlier image's top-5 is not taken for a new one's. */
function clearResult() {
  clearTop();
  state.overlay.clear();
  state.smoother.reset();
  state.lastShown = null;
  $('still').hidden = true;
  delete document.body.dataset.source;
}

/**
 * Shows a top-5 (on the camera averaged over recent frames, where steady labels are on) and
 * the overlay over `image` ({shown, width, height}: the element showing the classified
 * image and its size). `source` ('camera' or 'image') is kept on the body for tests and styles.
 */
function showResult(result, gpuMs, ms, source, image) {
  mark('first_frame');
  document.body.dataset.frames = Number(document.body.dataset.frames || 0) + 1;
  document.body.dataset.source = source;
  const now = performance.now();
  if (source !== 'camera' || !state.smooth) state.smoother.reset();
  const top = source === 'camera' && state.smooth ? state.smoother.add(result, now) : result;
  showTop(top, ms, gpuMs, now);
  state.lastShown = { top, image };
  drawOverlay();
}

/**
 * Draws the crop outline over the image on screen and, with activation maps on, the map of
 * the class picked in the top-5 (the top class's if that one is not among this frame's).
 */
function drawOverlay() {
  const { top, image } = state.lastShown ?? {};
  if (!image || !state.classifier) return;
  const chosen = state.cams ? top.find((t) => t.index === state.camClass && t.cam) ?? top.find((t) => t.cam) : null;
  markMapped(chosen?.index ?? null);
  const crop = state.classifier.crop(image.width, image.height);
  state.overlay.draw({ ...image, crop, cam: chosen?.cam ?? null, label: chosen?.label ?? '' });
}

/** Turns the activation maps on or off; a picture on screen is classified again to show its. */
async function setCams(on) {
  $('cam-on').checked = on;
  $('cam-opacity-wrap').hidden = !on;
  if (on === state.cams) return drawOverlay();
  state.cams = on;
  document.body.dataset.cams = on ? 'on' : 'off';
  const still = $('still');
  if (state.running || still.hidden || !state.lastShown) return drawOverlay(); // the next frame has them
  try {
    await exclusive(() => classify(still, still.width, still.height));
  } catch (e) {
    state.cams = false;
    $('cam-on').checked = false;
    $('cam-opacity-wrap').hidden = true;
    showMessage('cam', 'Activation maps are not available', e.message);
  }
}

/** A tap on a top-5 entry: its activation map is drawn (turned on if it was off). */
function pickCam(event) {
  const index = pickedClass(event);
  if (index == null) return;
  state.camClass = index;
  setCams(true);
}

/** Camera frames the page keeps in flight: ?inflight=N, else as many as the backend gains from. */
const framesInFlight = () => Number(params.get('inflight')) || state.classifier.framesInFlight;

// On GPUs the camera loop keeps two frames in flight: frame N+1 is handed to the GPU and
// queued while frame N's result is still on its way back, so the GPU does not wait for the
// page between frames. A new frame is taken only once frame N-1 is shown. (A software
// adapter computes on the same CPU cores as the page: a second frame in flight gains
// nothing there and doubles the delay, measured on SwiftShader.)
async function cameraLoop() {
  if (!state.running || !state.turns.free) return;
  const video = $('video');
  if (video.readyState >= 2 && video.videoWidth > 0) {
    try {
      await state.turns.frame(() => {
        const t0 = performance.now();
        const image = { shown: video, width: video.videoWidth, height: video.videoHeight };
        const result = state.classifier.classify(video, { cams: state.cams });
        return [result.then((top) => {
          showResult(top, state.classifier.lastPass?.gpuMs, performance.now() - t0, 'camera', image);
          afterFirstPrediction();
        })];
      }, framesInFlight() > 1);
    } catch (e) {
      // a frame that failed with its device is recovered from (deviceLost)
      if (e.deviceLost) return;
      state.running = false;
      showMessage('gpu', 'Classification stopped', e.message,
        { label: 'Reload', run: () => location.reload() });
    }
  }
  if (state.running) requestAnimationFrame(cameraLoop);
}

// ---------- camera ----------

async function startCamera(deviceId) {
  stopCamera();
  setStatus('Starting the camera…');
  try {
    state.stream = await openCamera({ deviceId, facing: state.facing });
  } catch (e) {
    setStatus(null);
    showMessage('camera', e.title ?? 'The camera could not be started', e.message);
    return;
  }
  clearMessage('camera');
  state.cameraGone = false;
  const track = state.stream.getVideoTracks()[0];
  track?.addEventListener('ended', () => { if (state.stream?.getVideoTracks()[0] === track) cameraEnded(); });
  const el = $('video');
  el.srcObject = state.stream;
  await el.play().catch(() => {});
  $('still').hidden = true;
  el.hidden = false;
  setStatus(null);
  await listCameras($('camera'), $('flip'), state.stream);
  $('pause').disabled = false;
  $('pause').textContent = 'Pause';
  state.running = true;
  requestAnimationFrame(cameraLoop);
}

function stopCamera() {
  state.running = false;
  state.hiddenPause = false;
  state.stream?.getTracks().forEach((t) => t.stop());
  state.stream = null;
}

/**
 * The camera's track ended without the page stopping it: the camera was unplugged, another
 * program took it, or the permission was withdrawn. Says so; `cameraMayBeBack` restarts it.
 */
function cameraEnded() {
  stopCamera();
  state.cameraGone = true;
  document.body.dataset.camera = 'gone';
  $('pause').textContent = 'Start camera';
  showMessage('camera', 'The camera went away',
    'It was disconnected, or the permission to use it was withdrawn. It starts again here when a camera is back; ' +
    'meanwhile you can classify an image: pick one or drop it on the page.');
}

/** A camera was connected or a permission changed: restarts the camera if it went away. */
async function cameraMayBeBack() {
  if (state.stream) return listCameras($('camera'), $('flip'), state.stream); // a camera more (or fewer) to choose from
  if (!state.cameraGone || !state.classifier) return;
  if ((await cameras()).length === 0) return;
  await startCamera();
  if (state.stream) delete document.body.dataset.camera;
}

/** Stops the frame loop while the tab is hidden (the browser would only throttle it). */
function visibilityChanged() {
  if (document.visibilityState === 'hidden') {
    if (!state.running) return;
    state.running = false;
    state.hiddenPause = true;
    $('video').pause();
    document.body.dataset.paused = 'hidden';
  } else if (state.hiddenPause) {
    state.hiddenPause = false;
    delete document.body.dataset.paused;
    if (!state.stream) return;
    $('video').play().catch(() => {});
    state.running = true;
    requestAnimationFrame(cameraLoop);
  }
}

function togglePause() {
  if (!state.stream) return startCamera();
  if (state.running) {
    state.running = false;
    $('video').pause();
    $('pause').textContent = 'Resume';
  } else {
    $('video').play();
    $('still').hidden = true;
    $('video').hidden = false;
    $('pause').textContent = 'Pause';
    state.running = true;
    requestAnimationFrame(cameraLoop);
  }
}

// ---------- image files ----------

async function classifyFile(file) {
  if (!file) return;
  await state.starting?.catch(() => {}); // the site's model may still be downloading
  if (state.loading) await state.loading.catch(() => {});
  if (!state.classifier) {
    showMessage('image', 'The model is not loaded yet', 'Load weights first, then pick the image again.');
    return;
  }
  const problem = await fileProblem(file);
  if (problem) {
    showMessage('image', 'That file cannot be classified', problem);
    if (!state.running) clearResult();
    return;
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    showMessage('image', 'That file is not an image', `"${file.name}" could not be decoded as an image (JPEG, PNG, WebP, GIF…).`);
    if (!state.running) clearResult(); // the result on screen is not this file's
    return;
  }
  clearMessage('image');
  const fitted = await fitWithin(bitmap, state.classifier.maxSide);
  if (fitted !== bitmap) {
    console.info(`${file.name}: ${bitmap.width}x${bitmap.height} scaled to ${fitted.width}x${fitted.height} to fit the backend`);
    bitmap.close();
    bitmap = fitted;
  }
  // Pause the camera and show the picture in its place.
  if (state.running) togglePause();
  showStill(bitmap);
  await exclusive(async () => {
    try {
      await classify(bitmap, bitmap.width, bitmap.height);
    } catch (e) {
      showMessage('image', 'The image could not be classified', e.message);
      clearResult();
    } finally {
      bitmap.close();
    }
  });
  $('pause').disabled = false;
  $('pause').textContent = state.stream ? 'Resume camera' : 'Start camera';
}

/** Shows `bitmap` in the camera's place. */
function showStill(bitmap) {
  const canvas = $('still');
  [canvas.width, canvas.height] = [bitmap.width, bitmap.height];
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  canvas.hidden = false;
  $('video').hidden = true;
}
function wireInputs() {
  $('file').addEventListener('change', (e) => classifyFile(e.target.files[0]));
  $('weights-file').addEventListener('change', (e) => loadCustom(e.target.files[0]));
  $('pause').addEventListener('click', togglePause);
  state.overlay = new Overlay($('cam'), $('cam-heat'));
  $('cam-on').addEventListener('change', (e) => setCams(e.target.checked));
  $('cam-opacity').addEventListener('input', (e) => { state.overlay.opacity = Number(e.target.value); state.overlay.redraw(); });
  state.overlay.opacity = Number($('cam-opacity').value);
  $('smooth').addEventListener('change', (e) => { state.smooth = e.target.checked; state.smoother.reset(); });
  state.explorer = new Explorer($('explorer'), exclusive);
  $('explore').addEventListener('click', () => {
    const open = !state.explorer.isOpen;
    $('explore').setAttribute('aria-pressed', String(open));
    if (!open) return state.explorer.close();
    if (state.classifier) state.explorer.open(state.classifier);
  });
  $('top5').addEventListener('click', pickCam);
  $('top5').addEventListener('keydown', pickCam);
  new ResizeObserver(() => state.overlay.redraw()).observe($('stage'));
  $('camera').addEventListener('change', (e) => startCamera(e.target.value));
  $('flip').addEventListener('click', () => {
    state.facing = state.facing === 'environment' ? 'user' : 'environment';
    startCamera();
  });
  const stage = $('stage');
  for (const type of ['dragenter', 'dragover']) {
    document.addEventListener(type, (e) => { e.preventDefault(); $('drop-hint').hidden = false; });
  }
  document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) $('drop-hint').hidden = true; });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    $('drop-hint').hidden = true;
    const file = e.dataTransfer.files[0];
    if (file && WEIGHTS_FILE.test(file.name)) loadCustom(file);
    else classifyFile(file);
  });
  document.addEventListener('visibilitychange', visibilityChanged);
  navigator.mediaDevices?.addEventListener('devicechange', cameraMayBeBack);
  navigator.permissions?.query({ name: 'camera' })
    .then((status) => status.addEventListener('change', cameraMayBeBack)).catch(() => {});
  stage.addEventListener('click', () => { if (!state.classifier && !$('custom').hidden) $('weights-file').click(); });
}

// ---------- the user's own weights file ----------

const WEIGHTS_FILE = /\.(pth|pt|tar|bin|safetensors)$/i;

/** Shows the card for a weights file from disk; `reason` replaces its heading. */
function showCustom(reason) {
  $('custom').hidden = false;
  if (reason) $('custom-title').textContent = reason;
}

/** Loads a weights file picked or dropped by the user, whatever network it is for. */
async function loadCustom(file) {
  if (!file) return;
  stopCamera();
  const ticket = requestModel();
  const labelsFile = $('labels-file').files[0];
  try {
    setStatus(`Reading ${file.name}…`);
    const labels = labelsFile ? await labelsFile.text() : null;
    const clf = await loadClassifier(ticket, { weights: file, labels, onProgress: progressShown(file.name) });
    clearMessage('weights');
    const picker = $('model');
    if (![...picker.options].some((o) => o.value === 'file')) picker.add(new Option('', 'file'));
    const option = [...picker.options].find((o) => o.value === 'file');
    option.textContent = `${clf.title}, ${clf.classes} classes (${file.name})`;
    picker.value = state.picked = 'file';
    picker.hidden = false;
    $('custom').hidden = true;
    await afterLoad();
  } catch (err) {
    if (err.kind === 'superseded') return; // another model was asked for meanwhile
    showMessage(err.kind || 'weights', `${file.name} cannot be used`, err.message);
    if (state.classifier) {
      await afterLoad(); // the model loaded before is still there: back to the camera
    } else {
      setStatus('No model loaded');
    }
  }
}

// ---------- start ----------

/** The benchmark (bench.js) on the classifier that runs, each pass shown as an image's. */
function benchmark() {
  setStatus(`Benchmark: ${params.get('warmup') ?? 3} warm-up and ${BENCH} timed runs…`);
  let shown = false;
  return runBenchmark({
    classifier: state.classifier,
    runs: BENCH,
    warmup: Number(params.get('warmup') ?? 3),
    withCams: params.get('cam') === '1',
    layers: params.get('layers') === '1',
    loadMs: state.loadMs,
    classify: (bitmap, cams) => {
      if (!shown) showStill(bitmap);
      shown = true;
      state.cams = cams; // and drawn
      return classify(bitmap, bitmap.width, bitmap.height);
    },
  }).finally(() => {
    state.cams = false;
    setStatus(null);
  });
}

async function afterLoad() {
  $('file').disabled = false;
  if (BENCH > 0) return benchmark();
  document.body.dataset.state = 'ready';
  setStatus(null);
  await startCamera();
  if (!state.running) keepForOffline(wasmBuilds()); // no camera: no first frame to wait for
  const soak = Number(params.get('soak'));
  if (soak > 0 && !state.soaking) {
    state.soaking = true;
    runSoak({
      classifier: () => state.classifier,
      frames: soak,
      warmup: Number(params.get('warmup') ?? 50),
      settled: state.settled,
      running: () => state.running,
      exclusive,
      stop: stopCamera,
    });
  }
}

/** Says that the engine cannot run here (`e` from api.js's ready), and why. */
function engineFailed(e) {
  const engine = e.kind === 'engine';
  setStatus(engine ? 'The engine cannot run here' : 'The GPU is not available');
  const message = e.kind === 'webgpu' && e.why
    ? `The GPU backend was asked for (?backend=gpu), but ${e.why}. Use a current Chrome, Edge or Safari ` +
      '(or Firefox with WebGPU enabled) on a secure (https) page, or drop ?backend=gpu.'
    : e.message;
  showMessage(e.kind || 'webgpu', engine ? 'This browser is too old for the engine' : 'WebGPU is not available', message);
  document.body.dataset.state = 'error';
}

async function main() {
  const start = performance.now();
  wireInputs();
  setStatus('Starting…');
  // The engine compiles while the model list and the weights download.
  const engine = ready({ ...ENGINE, onProgress: ({ phase }) => mark(phase) });
  const models = await siteModels(new URL('weights/', location.href));
  const wanted = models.find((m) => m.model === params.get('model')) ?? models[0];
  if (wanted) {
    state.starting = loadSiteModel(wanted);
    state.starting.catch(() => {}); // reported below, once the engine is known to run
  }
  try {
    await engine;
  } catch (e) {
    return engineFailed(e);
  }
  if (!wanted) {
    showCustom('No model weights on this site');
    setStatus('No model loaded');
    document.body.dataset.state = 'no-weights';
    return;
  }
  const picker = $('model');
  picker.replaceChildren(...models.map((m) => new Option(m.title, m.model)), new Option('Your own model…', 'custom'));
  picker.hidden = false;
  picker.value = wanted.model;
  state.picked = wanted.model; // what the picker shows when the custom entry is cancelled
  picker.addEventListener('change', async () => {
    if (picker.value === 'custom') {
      picker.value = state.picked;
      showCustom();
      $('weights-file').click();
      return;
    }
    if (picker.value === 'file') return;
    const previous = state.picked;
    state.picked = picker.value;
    stopCamera();
    $('custom').hidden = true;
    try {
      if (!await loadSiteModel(models.find((m) => m.model === picker.value))) return;
      [...picker.options].find((o) => o.value === 'file')?.remove(); // that model is replaced
    } catch (e) {
      showMessage(e.kind || 'weights', 'The model could not be loaded', e.message);
      picker.value = state.picked = previous; // the model loaded before is still there
      if (!state.classifier) return setStatus('The model could not be loaded');
    }
    await afterLoad();
  });
  try {
    if (!await state.starting) return; // the user's own file, picked meanwhile, runs instead
  } catch (e) {
    setStatus('The model could not be loaded');
    showMessage(e.kind || 'weights', 'The model could not be loaded', e.message,
      { label: 'Retry', run: () => location.reload() });
    document.body.dataset.state = 'error';
    showCustom('Or use a weights file from your disk');
    return;
  }
  state.loadMs = performance.now() - start;
  await afterLoad();
}

main();
