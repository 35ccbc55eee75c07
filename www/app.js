// The page: loads the engine (Rust compiled to WebAssembly) and the model weights, then
// classifies camera frames or image files on the GPU (WebGPU) or the CPU (WebAssembly
// SIMD), whichever measured faster on this device; without WebGPU on the CPU at once.
// Every URL is relative, so the folder works from any static host and any sub-path.
//
// Query parameters: ?bench=N[&warmup=W][&layers=1] runs the benchmark instead of the
// camera (layers=1 adds per-layer times); ?autotune=0 skips kernel tuning;
// ?model=NAME picks a model from weights/models.json; ?backend=gpu|cpu forces a backend;
// ?threads=N sets the CPU backend's threads (1: on the page's own thread); ?relaxed=0
// keeps the threaded CPU backend off relaxed SIMD (whose fused multiply-adds round
// differently from the one-thread build's); ?soak=N[&warmup=W] runs N camera frames after
// W more (default 50) past the start-up work and reports the memory held before and after
// (JS heap, wasm memory, live GPU objects).

import init, { modelTitles, openEngine, cpuEngine, memoryReport } from './pkg/inception.js';
import { startThreadedCpu } from './threaded-cpu.js';
import { keepForOffline } from './offline.js';
import { fileProblem, fitWithin, maxSide } from './images.js';
import { siteModels, downloadWeights, forgetWeights } from './weights.js';
import { Overlay } from './overlay.js';
import { Smoother } from './smoothing.js';
import { Explorer } from './explorer.js';
import { setStatus, showMessage, clearMessage } from './messages.js';
import { Turns } from './turns.js';
import { openCamera, cameras, listCameras } from './camera.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const FORCED_BACKEND = ['gpu', 'cpu'].includes(params.get('backend')) ? params.get('backend') : null;
// Passes timed per backend when choosing one (after a warm-up pass each).
const CHOICE_RUNS = 3;
// The GPU is tuned before the choice only if, untuned, it is within this factor of the CPU
// (a margin, not a measurement of every adapter: on llvmpipe the autotuned pass took 206-240
// ms against 236 ms untuned).
const TUNING_COULD_WIN = 2;

const state = {
  gpu: null, // the WebGPU engine, where the browser offers an adapter
  cpu: null, // the CPU engine (always there)
  noGpu: null, // why there is no GPU engine, in words
  backend: null, // { name, reason, gpuMs, cpuMs }: what runs the classifier and why
  weightsPrecision: null, // the site's weights' precision (models.json); null for a user's file
  device: null,
  classifier: null,
  stream: null,
  running: false, // the camera loop is on
  turns: new Turns(() => { if (state.running) requestAnimationFrame(cameraLoop); }), // frames and exclusive work (turns.js)
  pipelinedGpu: true, // on the GPU two camera frames may be in flight (?inflight, not on software adapters)
  pipelined: false, // ... and the classifier that runs is on the GPU
  pendingMeasure: null, // a first visit's GPU measurement, run after the first prediction
  pendingTune: null, // a GPU classifier whose kernels are tuned after the first prediction
  measuring: false, // that measurement or tuning is under way
  frameWaiters: [], // background work waiting for the next camera prediction (aFrameShown)
  starting: null, // the site model's first load (download and build)
  source: null, // { model, bytes, labels } of the running classifier: rebuilt from it after a lost device
  losses: [], // when the GPU device was lost (performance.now()), for LOSSES_BEFORE_CPU
  facing: 'environment',
  fastVideoCopy: false, // copyExternalImageToTexture straight from the <video> (decided at start)
  frameTimes: [],
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
  loading: null, // the model load under way (loadClassifier), which images picked meanwhile wait for
  picked: null, // the site model the picker shows
  canvas: null, // the canvas frames are drawn into for the CPU backend's pixels
  loadMs: null, // navigation to the first model built, for the benchmark
  tuneMs: null, // the kernel autotune's time, for the benchmark
  tiles: null, // how many convolutions use each tile, for the benchmark
};

// What happened when, in milliseconds since navigation: read by `cargo xtask bench-web
// --first-visit` (engine, cpu, gpu, weights, built, first_frame, tuned, settled: every
// background step after the first frame done).
const timeline = (window.__timeline = {});
const mark = (name) => { timeline[name] ??= Math.round(performance.now()); };

const mb = (bytes) => (bytes / 1e6).toFixed(1);

// ---------- engine and weights ----------

/** The adapter in words: the browser's own description where it gives one. */
function adapterName() {
  const info = state.device.adapterInfo;
  const words = info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean) : [];
  return words.length ? [...new Set(words)].join(' ') : state.gpu.describe();
}

/**
 * The CPU engine: on every core, in a worker, where the page is cross-origin isolated
 * (wasm threads share memory, which browsers allow only there); on the page's own thread
 * otherwise. Both give the same results.
 */
async function startCpu() {
  const threads = Math.min(Number(params.get('threads')) || navigator.hardwareConcurrency || 1, 16);
  if (threads > 1 && self.crossOriginIsolated) {
    try {
      return await startThreadedCpu(threads, params.get('relaxed') !== '0');
    } catch (e) {
      console.info('wasm threads are not available here; the CPU backend runs on one thread:', e.message);
    }
  }
  return cpuEngine();
}

/**
 * Opens the CPU engine and, unless the CPU is forced, WebGPU. Without WebGPU the page runs
 * on the CPU (and says why); only a forced GPU that is missing is an error.
 */
async function startEngine() {
  setStatus('Starting…');
  try {
    await init();
  } catch (e) {
    // the module uses WebAssembly SIMD: browsers from before 2021-2023 refuse to compile it
    throw Object.assign(new Error('This browser cannot run the engine, which needs WebAssembly with SIMD ' +
      `(Chrome or Edge 91, Firefox 89, Safari 16.4 or later): ${e.message}`), { kind: 'engine' });
  }
  mark('engine');
  state.cpu = await startCpu();
  mark('cpu');
  if (FORCED_BACKEND === 'cpu') return;
  if (!navigator.gpu) {
    state.noGpu = 'this browser does not offer WebGPU';
  } else {
    try {
      state.gpu = await openEngine();
      mark('gpu');
    } catch (e) {
      console.info('opening a WebGPU device failed:', e);
      state.noGpu = 'this browser has WebGPU but offers no GPU adapter to this page ' +
        '(the GPU may be blocklisted, or hardware acceleration turned off)';
    }
  }
  if (!state.gpu) {
    if (FORCED_BACKEND === 'gpu') {
      throw Object.assign(new Error(`The GPU backend was asked for (?backend=gpu), but ${state.noGpu}. ` +
        'Use a current Chrome, Edge or Safari (or Firefox with WebGPU enabled) on a secure (https) page, or drop ?backend=gpu.'),
      { kind: 'webgpu' });
    }
    return;
  }
  useGpu(state.gpu);
}

/** Makes `gpu` (a WebGPU engine) the page's, and watches its device. */
function useGpu(gpu) {
  state.gpu = gpu;
  const device = (state.device = gpu.device());
  // the devices this page has had, for the browser test of a lost device
  document.body.dataset.devices = Number(document.body.dataset.devices || 0) + 1;
  adaptFramePath();
  device.lost.then((info) => { if (device === state.device) recoverFromLostDevice(info); });
}

// ---------- a lost GPU device ----------

// Drivers reset, laptops switch GPUs, phones reclaim a background tab's GPU: the page builds
// the network again on a new device (from the weights it holds and the saved kernel
// choice) and the camera resumes. A GPU lost this many times within LOSS_WINDOW_MS is
// given up for the CPU backend rather than recovered in a loop.
const LOSSES_BEFORE_CPU = 3;
const LOSS_WINDOW_MS = 60_000;

async function recoverFromLostDevice(info) {
  if (localStorage.getItem(videoCopyKey()) === 'trying') localStorage.setItem(videoCopyKey(), 'broken');
  const dead = state.gpu;
  state.gpu = null; // gone with its device
  if (state.classifier?.backend() !== 'gpu') {
    state.noGpu = 'its GPU device was lost';
    return; // the CPU carries on
  }
  const t0 = performance.now();
  state.losses = [...state.losses.filter((t) => t0 - t < LOSS_WINDOW_MS), t0];
  const toCpu = state.losses.length >= LOSSES_BEFORE_CPU;
  const why = `${info.reason || 'unknown reason'}${info.message ? ': ' + info.message : ''}`;
  const lost = `The browser took the GPU away from this page (${why}).`;
  clearMessage('gpu'); // a frame that failed with the device says less than this
  showMessage('device-lost', 'The GPU device was lost', toCpu
    ? `${lost} It was lost ${state.losses.length} times within a minute: the CPU runs the network from now on.`
    : `${lost} Building the network again on a new device…`);
  try {
    await exclusive(async () => {
      const { model, bytes, labels } = state.source;
      if (!toCpu) useGpu(await openEngine());
      // (no warm-up pass: the next camera frame compiles the shaders as it would, and is
      // shown about a second sooner: 1.9 s of the 4.3 s to the first frame here on SwiftShader)
      const next = await loadOn(toCpu ? state.cpu : state.gpu, model, bytes, labels, { quiet: true, warm: false });

      try {
        state.classifier.free();
        dead.free();
      } catch { /* their device is gone */ }
      await install(next);
      state.backend = toCpu
        ? { name: 'cpu', reason: `the GPU was lost ${state.losses.length} times within a minute` }
        : { ...state.backend, reason: `${state.backend.reason}; rebuilt after a lost device` };
      describeBackend(JSON.parse(next.stats()));
    });
  } catch (e) {
    state.running = false;
    showMessage('device-lost', 'The GPU device was lost', `${lost} It could not be replaced: ${e.message}`,
      { label: 'Reload', run: () => location.reload() });
    return;
  }
  if (toCpu) return; // the card stays: it says why the CPU runs
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const notice = showMessage('device-lost', 'The GPU device was lost', `${lost} It was replaced in ${seconds} s.`);
  setTimeout(() => notice.remove(), 6000); // this notice only: not a later loss's
}

/** Downloads a site model's weights with a progress bar, or takes them from the cache. */
async function fetchWeights(entry) {
  const fetched = await downloadWeights(entry, new URL('weights/', location.href), ({ loaded, total, cached }) => {
    if (cached) setStatus(`Reading ${entry.title} from the cache…`);
    else setStatus(`Downloading ${entry.title}… ${mb(loaded)} of ${mb(total)} MB`, loaded / total);
  });
  mark('weights');
  return fetched;
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
 * Builds the classifier on the backend chosen for this device (see chooseBackend) and
 * warms it up (on the GPU that compiles every shader). `model` names the network the file
 * must be for; null lets the engine recognise it (a user's own file). `precision` is the
 * site's weights' (models.json), shown beside the backend. `ticket`: requestModel()'s, taken
 * when the model was asked for. Rejects with kind 'superseded' where a later-asked model
 * already runs.
 */
function loadClassifier(ticket, model, bytes, labels, title, precision = null) {
  // One load at a time (a file may be picked while the site's model is still loading), and
  // images picked meanwhile wait for the last one (the classifier is busy until then).
  const load = (state.loading ?? Promise.resolve()).catch(() => {})
    .then(() => buildClassifier(ticket, model, bytes, labels, title, precision));
  const tracked = load.finally(() => { if (state.loading === tracked) state.loading = null; });
  tracked.catch(() => {}); // the caller handles the failure
  state.loading = tracked;
  return load;
}

async function buildClassifier(ticket, model, bytes, labels, title, precision) {
  if (ticket < runningTicket) throw superseded();
  setStatus('Checking the weights…');
  await nextPaint();
  let next;
  try {
    next = await chooseBackend(model, bytes, labels);
  } catch (e) {
    if (e.kind) throw e;
    const what = e.name === 'WeightsError' || e.name === 'UsageError' ? e.message : `${e.name}: ${e.message}`;
    throw Object.assign(new Error(model
      ? `These weights do not fit the ${title ?? model} model: ${what}`
      : `This file does not fit any network the page runs (${modelTitles()}): ${what}`),
    { kind: 'weights' });
  }
  // the new model is valid: only now replace the current one (a bad file keeps it)
  // (after any background measurement, which may be using the current classifier)
  return exclusive(async () => {
    if (ticket < runningTicket) {
      next.free();
      throw superseded();
    }
    runningTicket = ticket;
    state.classifier?.free();
    await install(next);
    state.source = { model, bytes, labels };
    state.weightsPrecision = precision; // null: a file of the user's, as it is
    mark('built');
    const stats = JSON.parse(state.classifier.stats());
    describeBackend(stats);
    clearMessage('weights');
    return stats;
  });
}

/** Makes `next` the classifier that runs (within exclusive work), with the page's settings. */
async function install(next) {
  state.classifier = next;
  state.smoother.reset(); // another model's probabilities are not averaged in
  if (state.cams) await next.setCams(true);
  state.explorer?.changed(next);
}

/** Says which backend runs the classifier with `stats`, and why. */
function describeBackend(stats) {
  const gpu = stats.backend === 'gpu';
  $('model-title').textContent = `${stats.title} on ${gpu ? 'WebGPU' : 'the CPU'}`;
  const weights = state.weightsPrecision ? `; ${state.weightsPrecision} weights` : '';
  $('adapter').textContent = `${gpu ? `GPU: ${adapterName()}` : `CPU: ${state.cpu.describe()}`} (${state.backend.reason})${weights}`;
  document.body.dataset.precision = state.weightsPrecision ?? 'file';
  document.body.dataset.backend = stats.backend;
  state.pipelined = gpu && state.pipelinedGpu;
}

/**
 * A classifier of `model` on `engine`, on the GPU warmed up (every shader compiled by a
 * first pass) unless `warm` is false, and its kernels tuned too unless `tune` is false.
 */
async function loadOn(engine, model, bytes, labels, { tune = true, quiet = false, warm = true } = {}) {
  const classifier = await engine.load(model, bytes, labels);
  const stats = JSON.parse(classifier.stats());
  if (stats.backend === 'gpu') {
    if (!quiet) {
      setStatus('Compiling shaders…');
      await nextPaint();
    }
    if (warm) {
      classifier.texture(stats.inputSize, stats.inputSize);
      await classifier.run();
    }
    if (tune && !restoreKernels(classifier) && params.get('autotune') !== '0') {
      // the benchmark reports tuned speed; elsewhere the first frames run on the default
      // kernels and tuning goes on between frames (afterFirstPrediction)
      if (params.has('bench')) await tuneNow(classifier);
      else state.pendingTune = classifier;
    }
  }
  return classifier;
}

/** Median milliseconds of CHOICE_RUNS passes end to end (upload to top-5), after a warm-up. */
async function timePasses(classifier, bitmap) {
  const times = [];
  for (let i = 0; i <= CHOICE_RUNS; i++) {
    const t0 = performance.now();
    await upload(classifier, bitmap, bitmap.width, bitmap.height);
    await classifier.run();
    if (i > 0) times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

const backendKey = (model) => `inception.backend.${adapterName()}.${model}`;

/**
 * The classifier on the backend to use here: the forced one; the CPU without a GPU; else
 * the faster of both, measured once per adapter and model (kept in localStorage, like the
 * kernel tuning) and remembered with both figures.
 */
async function chooseBackend(model, bytes, labels) {
  if (!state.gpu) {
    state.backend = { name: 'cpu', reason: FORCED_BACKEND ? 'cpu forced' : `no WebGPU adapter: ${state.noGpu}` };
    return loadOn(state.cpu, model, bytes, labels);
  }
  if (FORCED_BACKEND === 'gpu') {
    state.backend = { name: 'gpu', reason: 'gpu forced' };
    return loadOn(state.gpu, model, bytes, labels);
  }
  const key = model && backendKey(model);
  const saved = key && JSON.parse(localStorage.getItem(key) ?? 'null');
  if (saved?.name === 'gpu' || saved?.name === 'cpu') {
    state.backend = { ...saved, reason: `${saved.reason}, measured on an earlier visit` };
    return loadOn(saved.name === 'gpu' ? state.gpu : state.cpu, model, bytes, labels);
  }
  if (!params.has('bench')) {
    // A first visit: the first frames run on the CPU, which is ready in a moment, and the
    // GPU is built and measured after the first prediction is shown (measureInBackground).
    const cpu = await loadOn(state.cpu, model, bytes, labels);
    state.backend = { name: 'cpu', reason: 'the GPU is being measured meanwhile' };
    state.pendingMeasure = { model, bytes, labels, key, cpu };
    return cpu;
  }
  // The benchmark measures before its first run, as it reports the chosen backend's speed.
  const cpu = await loadOn(state.cpu, model, bytes, labels);
  const gpu = await loadOn(state.gpu, model, bytes, labels, { tune: false });
  setStatus('Measuring the GPU and the CPU…');
  await nextPaint();
  const choice = await measureBoth(gpu, cpu, key);
  (choice === gpu ? cpu : gpu).free();
  return choice;
}

/**
 * Times `gpu` and `cpu` and returns the faster, remembered under `key` (the benchmark's
 * choice, made before its first run). The GPU is measured before its kernels are tuned,
 * and tuned (then measured again) only where tuning could make it the faster.
 */
async function measureBoth(gpu, cpu, key) {
  const bitmap = await benchImage();
  let gpuMs = await timePasses(gpu, bitmap);
  const cpuMs = await timePasses(cpu, bitmap);
  if (gpuMs < TUNING_COULD_WIN * cpuMs && !restoreKernels(gpu) && params.get('autotune') !== '0') {
    await tuneNow(gpu);
    gpuMs = await timePasses(gpu, bitmap);
  }
  bitmap.close();
  return choose(gpu, cpu, gpuMs, cpuMs, key);
}

/** The faster of `gpu` and `cpu` by the figures, remembered under `key` with them. */
function choose(gpu, cpu, gpuMs, cpuMs, key) {
  mark('measured');
  const name = cpuMs < gpuMs ? 'cpu' : 'gpu';
  const figures = `GPU ${gpuMs.toFixed(0)} ms, CPU ${cpuMs.toFixed(0)} ms per image`;
  state.backend = { name, reason: `measured faster here (${figures})`, gpuMs, cpuMs };
  if (key) localStorage.setItem(key, JSON.stringify(state.backend));
  return name === 'gpu' ? gpu : cpu;
}

/** Times `classifier` on the benchmark picture, with the camera held. */
async function timeHeld(classifier) {
  return exclusive(async () => {
    const bitmap = await benchImage();
    try { return await timePasses(classifier, bitmap); } finally { bitmap.close(); }
  });
}

/**
 * After a first visit's first prediction: builds the GPU classifier and times it against
 * the CPU one that is running, with the camera loop held (both would share the cores);
 * where tuning could make the GPU the faster, tunes it a candidate kernel at a time between
 * frames and times it again; moves to the GPU if it is the faster. A model loaded
 * meanwhile cancels the move.
 */
async function measureInBackground() {
  const pending = state.pendingMeasure;
  state.pendingMeasure = null;
  state.measuring = true;
  const replaced = () => state.classifier !== pending.cpu; // another model came in the meantime
  try {
    const gpu = await exclusive(() => {
      if (replaced()) return null;
      return loadOn(state.gpu, pending.model, pending.bytes, pending.labels, { tune: false, quiet: true }).catch((e) => {
        console.info('the GPU could not be measured; the CPU runs on:', e.message);
        state.backend = { name: 'cpu', reason: `the GPU failed to build (${e.message})` };
        return null;
      });
    });
    if (!gpu) return;
    await aFrameShown();
    let gpuMs = await timeHeld(gpu);
    await aFrameShown();
    const cpuMs = await timeHeld(pending.cpu);
    if (gpuMs < TUNING_COULD_WIN * cpuMs && !restoreKernels(gpu) && params.get('autotune') !== '0' && !replaced()) {
      await tuneInSteps(gpu);
      gpuMs = await timeHeld(gpu);
    }
    await exclusive(async () => {
      const chosen = replaced() ? null : choose(gpu, pending.cpu, gpuMs, cpuMs, pending.key);
      if (chosen !== gpu) return gpu.free();
      await install(gpu);
      pending.cpu.free();
      describeBackend(JSON.parse(gpu.stats()));
    });
  } finally {
    state.measuring = false;
  }
}

/** Runs `work` with the classifier, and the cores, to itself (turns.js). */
const exclusive = (work) => state.turns.exclusive(work);

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

/** Called with each camera prediction shown: starts what waited for the first. */
function afterFirstPrediction() {
  state.frameWaiters.splice(0).forEach((resolve) => resolve());
  keepForOffline(state.cpu.dir);
  const tune = state.pendingTune;
  state.pendingTune = null;
  if (state.pendingMeasure) measureInBackground().finally(() => mark('settled'));
  else if (tune && tune === state.classifier) {
    state.measuring = true;
    tuneInSteps(tune).finally(() => { state.measuring = false; mark('settled'); });
  } else if (!state.measuring) mark('settled');
}

/** {"4x8": 40, "4x4": 17}: how many convolutions use each tile. */
function tileCounts(json) {
  const counts = {};
  for (const [, kernel] of JSON.parse(json)) counts[kernel] = (counts[kernel] ?? 0) + 1;
  return counts;
}

// The convolution kernels come in variants whose speed depends on the GPU: measured once
// per adapter and model, the choice kept for later visits.
const kernelsKey = (classifier) => `inception.kernels.${adapterName()}.${JSON.parse(classifier.stats()).model}`;

/** Applies the kernels chosen on an earlier visit, if any; false if there are none. */
function restoreKernels(classifier) {
  const saved = localStorage.getItem(kernelsKey(classifier));
  if (!saved) return false;
  try {
    classifier.setKernels(saved);
    state.tiles = tileCounts(saved);
    return true;
  } catch {
    localStorage.removeItem(kernelsKey(classifier)); // made by another build
    return false;
  }
}

function tuned(classifier, chosen, t0) {
  localStorage.setItem(kernelsKey(classifier), chosen);
  state.tuneMs = performance.now() - t0;
  state.tiles = tileCounts(chosen);
  mark('tuned');
}

/** Tunes the kernels at once (the benchmark, which reports the tuned speed). */
async function tuneNow(classifier) {
  setStatus('Tuning the kernels for this GPU (once)…');
  await nextPaint();
  const t0 = performance.now();
  try {
    tuned(classifier, await classifier.autotune(), t0);
  } catch (e) {
    console.info('kernel tuning skipped:', e.message); // e.g. no timestamp queries
  }
}

/**
 * Tunes the kernels while the camera runs: one candidate kernel per step (about one pass),
 * each step with the camera held, frames in between on the fastest kernels measured so far.
 * The same measurements and choice as tuneNow's.
 */
async function tuneInSteps(classifier) {
  const t0 = performance.now();
  try {
    for (;;) {
      const chosen = await exclusive(() => classifier.autotuneStep());
      if (chosen != null) return tuned(classifier, chosen, t0);
      await aFrameShown();
    }
  } catch (e) {
    console.info('kernel tuning stopped:', e.message); // no timestamp queries, or the model was replaced
  }
}

/** Loads a site model; false where a later request replaced it before it was ready. */
async function loadSiteModel(entry, download = fetchWeights(entry), ticket = requestModel()) {
  const { bytes, url } = await download;
  try {
    await loadClassifier(ticket, entry.model, bytes, null, entry.title, entry.precision ?? 'float32');
    return true;
  } catch (e) {
    if (e.kind === 'superseded') return false;
    await forgetWeights(url); // never keep a file that failed
    throw e;
  }
}

// ---------- classifying ----------

// Copying straight from the <video> element is the fast path, but on some adapters it
// loses the whole device (SwiftShader does). Software adapters, and adapters on which an
// attempt ended in a lost device (remembered per adapter), go through createImageBitmap.
// Software adapters also get one camera frame in flight instead of two (see cameraLoop).
const videoCopyKey = () => `inception.video-copy.${adapterName()}`;

function adaptFramePath() {
  const software = state.device.adapterInfo?.isFallbackAdapter === true;
  state.pipelinedGpu = params.has('inflight') ? params.get('inflight') === '2' : !software;
  state.fastVideoCopy = !software && localStorage.getItem(videoCopyKey()) !== 'broken';
}

/** The RGBA pixels of an image source, drawn into a canvas kept for the purpose. */
function pixels(source, width, height) {
  if (!state.canvas) state.canvas = new OffscreenCanvas(width, height);
  const canvas = state.canvas;
  if (canvas.width !== width || canvas.height !== height) [canvas.width, canvas.height] = [width, height];
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(source, 0, 0, width, height);
  return g.getImageData(0, 0, width, height).data;
}

/**
 * Gives an image source to `classifier`: on the GPU copied into its input texture, on the
 * CPU as RGBA pixels.
 */
async function upload(classifier, source, width, height) {
  if (classifier.backend() === 'cpu') {
    classifier.setImage(pixels(source, width, height), width, height);
    return;
  }
  const texture = classifier.texture(width, height);
  const copy = (src) => state.device.queue.copyExternalImageToTexture({ source: src }, { texture }, [width, height]);
  if (source instanceof HTMLVideoElement && state.fastVideoCopy) {
    const first = localStorage.getItem(videoCopyKey()) !== 'ok';
    if (first) localStorage.setItem(videoCopyKey(), 'trying');
    state.device.pushErrorScope('validation');
    let thrown = null;
    try { copy(source); } catch (e) { thrown = e; }
    const error = await state.device.popErrorScope();
    if (!thrown && !error) {
      if (first) localStorage.setItem(videoCopyKey(), 'ok');
      return;
    }
    localStorage.setItem(videoCopyKey(), 'broken');
    // Some adapters (SwiftShader) cannot copy from a video element: go through a bitmap.
    state.fastVideoCopy = false;
    console.info('copying video frames through createImageBitmap:', (thrown || error).message);
  }
  const bitmap = source instanceof ImageBitmap ? source : await createImageBitmap(source);
  try { copy(bitmap); } finally { if (bitmap !== source) bitmap.close(); }
}

/**
 * Uploads, classifies and shows the result (over `shown`, the element showing the image);
 * returns milliseconds end to end, showing included.
 */
async function classify(source, width, height, shown = $('still')) {
  const t0 = performance.now();
  await upload(state.classifier, source, width, height);
  const uploadMs = performance.now() - t0;
  const result = JSON.parse(await state.classifier.run());
  showResult(result, performance.now() - t0, 'image', { shown, width, height });
  return { ms: performance.now() - t0, uploadMs, result };
}

/** Empties the result panel, so that an earlier image's top-5 is not taken for a new one's. */
function clearResult() {
  $('top5').replaceChildren();
  state.overlay.clear();
  state.smoother.reset();
  state.lastShown = null;
  for (const id of ['fps', 'ms', 'gpu-ms']) $(id).textContent = '–';
  $('still').hidden = true;
  delete document.body.dataset.source;
}

/**
 * Shows a top-5 (on the camera averaged over recent frames, where steady labels are on) and
 * the overlay over `image` ({shown, width, height}: the element showing the classified
 * image and its size). `source` ('camera' or 'image') is kept on the body for tests and styles.
 */
function showResult(result, ms, source, image) {
  mark('first_frame');
  document.body.dataset.frames = Number(document.body.dataset.frames || 0) + 1;
  document.body.dataset.source = source;
  const now = performance.now();
  if (source !== 'camera' || !state.smooth) state.smoother.reset();
  const top = source === 'camera' && state.smooth ? state.smoother.add(result.top, now) : result.top;
  const list = $('top5');
  list.replaceChildren(...top.map(({ index, label, probability }) => {
    const li = document.createElement('li');
    li.dataset.index = index;
    li.tabIndex = 0;
    li.title = 'Show where the network sees this class';
    li.dataset.probability = probability;
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = label;
    const pct = document.createElement('span');
    pct.className = 'pct';
    pct.textContent = `${(100 * probability).toFixed(1)}%`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.setProperty('--p', probability);
    li.append(name, pct, bar);
    return li;
  }));
  state.lastShown = { top, image };
  drawOverlay();
  // Frames per second over the last few frames (slow adapters take seconds per frame).
  state.frameTimes = state.frameTimes.concat(now).slice(-6);
  const seconds = (now - state.frameTimes[0]) / 1000;
  $('fps').textContent = state.frameTimes.length > 1 ? ((state.frameTimes.length - 1) / seconds).toFixed(1) : '–';
  $('ms').textContent = ms.toFixed(0);
  $('gpu-ms-wrap').hidden = result.gpuMs == null;
  if (result.gpuMs != null) $('gpu-ms').textContent = result.gpuMs.toFixed(0);
}

// A classifier's stats() (fixed once it is built), parsed once: drawOverlay needs them each frame.
const parsedStats = new WeakMap();
const statsOf = (classifier) => {
  if (!parsedStats.has(classifier)) parsedStats.set(classifier, JSON.parse(classifier.stats()));
  return parsedStats.get(classifier);
};

/**
 * Draws the crop outline over the image on screen and, with activation maps on, the map of
 * the class picked in the top-5 (the top class's if that one is not among this frame's).
 */
function drawOverlay() {
  const { top, image } = state.lastShown ?? {};
  if (!image || !state.classifier) return;
  const chosen = state.cams ? top.find((t) => t.index === state.camClass && t.cam) ?? top.find((t) => t.cam) : null;
  for (const li of $('top5').children) li.classList.toggle('cam-shown', Number(li.dataset.index) === chosen?.index);
  const { inputSize, resize } = statsOf(state.classifier);
  state.overlay.draw({ ...image, crop: inputSize, resize, cam: chosen?.cam ?? null, label: chosen?.label ?? '' });
}

/** Turns the activation maps on or off; a picture on screen is classified again to show its. */
async function setCams(on) {
  $('cam-on').checked = on;
  $('cam-opacity-wrap').hidden = !on;
  if (on === state.cams) return drawOverlay();
  state.cams = on;
  document.body.dataset.cams = on ? 'on' : 'off';
  try {
    await exclusive(async () => {
      if (!state.classifier) return;
      await state.classifier.setCams(on);
      const still = $('still');
      if (!state.running && !still.hidden && state.lastShown) await classify(still, still.width, still.height);
    });
  } catch (e) {
    state.cams = false;
    $('cam-on').checked = false;
    $('cam-opacity-wrap').hidden = true;
    showMessage('cam', 'Activation maps are not available', e.message);
    return;
  }
  drawOverlay();
}

/** A tap on a top-5 entry: its activation map is drawn (turned on if it was off). */
function pickCam(event) {
  const li = event.target.closest('#top5 li');
  if (!li || (event.type === 'keydown' && event.key !== 'Enter' && event.key !== ' ')) return;
  event.preventDefault();
  state.camClass = Number(li.dataset.index);
  setCams(true);
}

function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

// On GPUs the camera loop keeps two frames in flight: frame N+1 is copied into the GPU
// texture and queued while frame N's result is still on its way back, so the GPU does not
// wait for the page between frames. A new frame is taken only once frame N-1 is shown.
async function cameraLoop() {
  if (!state.running || !state.turns.free) return;
  const video = $('video');
  if (video.readyState >= 2 && video.videoWidth > 0) {
    try {
      // (A software adapter computes on the same CPU cores as the page: a second frame in
      // flight gains nothing there and doubles the delay, measured on SwiftShader.)
      await state.turns.frame(async () => {
        const t0 = performance.now();
        const image = { shown: video, width: video.videoWidth, height: video.videoHeight };
        await upload(state.classifier, video, image.width, image.height);
        const result = state.classifier.run(); // submitted now: the texture may be refilled
        return result.then((json) => {
          showResult(JSON.parse(json), performance.now() - t0, 'camera', image);
          afterFirstPrediction();
        });
      }, state.pipelined);
    } catch (e) {
      // a frame that failed with its device is recovered from (recoverFromLostDevice)
      if (await deviceLostMeanwhile()) return;
      state.running = false;
      showMessage('gpu', 'Classification stopped', e.message,
        { label: 'Reload', run: () => location.reload() });
    }
  }
  if (state.running) requestAnimationFrame(cameraLoop);
}

/** Whether the GPU device is lost, or is within a moment (a failed frame may come first). */
function deviceLostMeanwhile() {
  if (state.classifier?.backend() !== 'gpu' || !state.device) return false;
  const moment = new Promise((resolve) => setTimeout(() => resolve(false), 500));
  return Promise.race([state.device.lost.then(() => true), moment]);
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
  const fitted = await fitWithin(bitmap, maxSide(state.classifier, state.device));
  if (fitted !== bitmap) {
    console.info(`${file.name}: ${bitmap.width}x${bitmap.height} scaled to ${fitted.width}x${fitted.height} to fit the backend`);
    bitmap.close();
    bitmap = fitted;
  }
  // Pause the camera and show the picture in its place.
  if (state.running) togglePause();
  const canvas = $('still');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  canvas.hidden = false;
  $('video').hidden = true;
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
    const bytes = new Uint8Array(await file.arrayBuffer());
    const labels = labelsFile ? await labelsFile.text() : null;
    const stats = await loadClassifier(ticket, null, bytes, labels);
    clearMessage('weights');
    const picker = $('model');
    if (![...picker.options].some((o) => o.value === 'file')) picker.add(new Option('', 'file'));
    const option = [...picker.options].find((o) => o.value === 'file');
    option.textContent = `${stats.title}, ${stats.classes} classes (${file.name})`;
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

// ---------- benchmark mode (?bench=N) ----------

/** A fixed 640x480 test picture, drawn rather than downloaded. */
async function benchImage() {
  const canvas = new OffscreenCanvas(640, 480);
  const g = canvas.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 640, 480);
  grad.addColorStop(0, '#1d3557');
  grad.addColorStop(0.5, '#e9c46a');
  grad.addColorStop(1, '#e76f51');
  g.fillStyle = grad;
  g.fillRect(0, 0, 640, 480);
  g.fillStyle = '#2a9d8f';
  g.beginPath();
  g.arc(320, 240, 120, 0, 2 * Math.PI);
  g.fill();
  return createImageBitmap(canvas);
}

/**
 * The benchmark mode (?bench=N): N timed passes on a drawn picture after `warmup`, each
 * from handing the picture over to the top-5 and overlay shown. With ?cam=1 every run is a
 * pair, one pass without activation maps and one with them (in turns, which goes first), so
 * that their cost is measured side by side on the same noisy machine.
 */
async function runBenchmark(runs, warmup) {
  setStatus(`Benchmark: ${warmup} warm-up and ${runs} timed runs…`);
  const bitmap = await benchImage();
  const still = $('still');
  [still.width, still.height] = [bitmap.width, bitmap.height];
  still.getContext('2d').drawImage(bitmap, 0, 0);
  still.hidden = false;
  $('video').hidden = true;
  const withCams = params.get('cam') === '1';
  const times = [];
  const camTimes = [];
  const uploads = [];
  const gpu = [];
  let first = null;
  for (let i = 0; i < warmup + runs; i++) {
    const modes = withCams ? (i % 2 ? [true, false] : [false, true]) : [false];
    for (const cams of modes) {
      if (withCams) {
        await state.classifier.setCams(cams);
        state.cams = cams; // and drawn
      }
      const { ms, uploadMs, result } = await classify(bitmap, bitmap.width, bitmap.height);
      first ??= ms;
      if (i < warmup) continue;
      (cams ? camTimes : times).push(ms);
      if (cams) continue;
      uploads.push(uploadMs);
      if (result.gpuMs != null) gpu.push(result.gpuMs);
    }
  }
  const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : null; };
  if (withCams) {
    await state.classifier.setCams(false);
    state.cams = false;
  }
  const stats = JSON.parse(state.classifier.stats());
  const report = {
    engine: 'inception-webgpu',
    model: stats.model,
    backend: state.backend,
    adapter: stats.backend === 'gpu' ? adapterName() : state.cpu.describe(),
    userAgent: navigator.userAgent,
    image: `${bitmap.width}x${bitmap.height}`,
    runs, warmup,
    timing_ms: { median: median(times), min: Math.min(...times), max: Math.max(...times) },
    // of which handing the image over: the copy into the texture, or the canvas's pixels
    upload_ms: { median: median(uploads) },
    gpu_ms: gpu.length ? { median: median(gpu), min: Math.min(...gpu), max: Math.max(...gpu) } : null,
    // with ?cam=1: the passes with activation maps (computed, read back and drawn), and
    // their median over that of the passes without
    cam_ms: withCams ? { median: median(camTimes), min: Math.min(...camTimes), max: Math.max(...camTimes) } : undefined,
    cam_ratio: withCams ? median(camTimes) / median(times) : undefined,
    first_run_ms: first,
    load_ms: state.loadMs,
    autotune_ms: state.tuneMs,
    tiles: state.tiles,
    gflops: 2 * stats.multiplyAdds / (median(times) * 1e6),
    top5: JSON.parse(await state.classifier.run()).top,
    stats,
  };
  if (params.get('layers') === '1') {
    // per-layer time (on the GPU each layer timed alone), with achieved GFLOP/s
    report.layers = JSON.parse(await state.classifier.profile()).map((l) => ({
      layer: l.layer, kernel: l.kernel, ms: +l.ms.toFixed(3), gflops: l.multiplyAdds ? +(2 * l.multiplyAdds / (l.ms * 1e6)).toFixed(2) : null,
    }));
  }
  const out = $('bench-result');
  out.textContent = JSON.stringify(report, null, 1);
  out.hidden = false;
  window.__bench = report;
  setStatus(null);
}

// ---------- soak mode (?soak=N) ----------

const shownFrames = () => Number(document.body.dataset.frames || 0);

async function untilFrames(n) {
  while (shownFrames() < n) {
    if (!state.running) throw new Error(`the camera stopped after ${shownFrames()} frames`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * What the page holds now: the JS heap after a collection (Chromium with --expose-gc and
 * --enable-precise-memory-info gives exact figures; otherwise null or rounded), the wasm
 * memory of the page's module and of the CPU worker's, and the live GPU objects.
 */
function memorySample() {
  return exclusive(memoryNow);
}

async function memoryNow() {
  // With no frame in flight, and two asynchronous collections run from an empty stack: a
  // plain gc() while the camera runs leaves 1.2 MB frames of pixels reachable, and the CPU
  // backend's heap then read anywhere from 9.6 to 31.8 MB from sample to sample (one
  // collection: within 18%); this way two samples 100 frames apart agree within 0.1%.
  for (let i = 0; i < 2; i++) await window.gc?.({ type: 'major', execution: 'async' });
  const main = JSON.parse(memoryReport());
  const worker = state.cpu.memoryReport ? JSON.parse(await state.cpu.memoryReport()) : null;
  return {
    frames: shownFrames(),
    seconds: +(performance.now() / 1000).toFixed(1),
    jsHeapBytes: performance.memory?.usedJSHeapSize ?? null,
    wasmBytes: main.wasmBytes,
    workerWasmBytes: worker?.wasmBytes ?? null,
    gpuObjects: main.gpu,
  };
}

/** Runs `frames` camera frames after `warmup` more and reports memory at both ends. */
async function runSoak(frames, warmup) {
  const out = $('bench-result');
  try {
    while (timeline.settled == null) await new Promise((resolve) => setTimeout(resolve, 200));
    await untilFrames(shownFrames() + warmup);
    const start = await memorySample();
    await untilFrames(start.frames + frames);
    const end = await memorySample();
    stopCamera();
    const change = (a, b) => (a ? +(100 * (b - a) / a).toFixed(2) : null);
    window.__soak = {
      backend: document.body.dataset.backend,
      model: JSON.parse(state.classifier.stats()).model,
      frames: end.frames - start.frames,
      msPerFrame: +(1000 * (end.seconds - start.seconds) / (end.frames - start.frames)).toFixed(1),
      start, end,
      changePercent: {
        jsHeap: change(start.jsHeapBytes, end.jsHeapBytes),
        wasm: change(start.wasmBytes, end.wasmBytes),
        workerWasm: change(start.workerWasmBytes, end.workerWasmBytes),
      },
      gpuObjectsEqual: JSON.stringify(start.gpuObjects) === JSON.stringify(end.gpuObjects),
    };
  } catch (e) {
    window.__soak = { error: e.message };
  }
  out.textContent = JSON.stringify(window.__soak, null, 1);
  out.hidden = false;
}

// ---------- start ----------

async function afterLoad() {
  $('file').disabled = false;
  const bench = Number(params.get('bench'));
  if (bench > 0) return runBenchmark(bench, Number(params.get('warmup') ?? 3));
  document.body.dataset.state = 'ready';
  setStatus(null);
  await startCamera();
  if (!state.running) keepForOffline(state.cpu.dir); // no camera: no first frame to wait for
  const soak = Number(params.get('soak'));
  if (soak > 0 && !state.soaking) {
    state.soaking = true;
    runSoak(soak, Number(params.get('warmup') ?? 50));
  }
}

async function main() {
  const start = performance.now();
  wireInputs();
  // The model list and the weights download while the engine compiles.
  const listed = siteModels(new URL('weights/', location.href));
  const engine = startEngine();
  const download = listed.then((models) => {
    const wanted = models.find((m) => m.model === params.get('model')) ?? models[0];
    return wanted && fetchWeights(wanted);
  });
  download.catch(() => {}); // reported below, once the engine is known to run
  try {
    await engine;
  } catch (e) {
    const engine = e.kind === 'engine';
    setStatus(engine ? 'The engine cannot run here' : 'The GPU is not available');
    showMessage(e.kind || 'webgpu', engine ? 'This browser is too old for the engine' : 'WebGPU is not available', e.message);
    document.body.dataset.state = 'error';
    return;
  }
  const models = await listed;
  if (models.length === 0) {
    showCustom('No model weights on this site');
    setStatus('No model loaded');
    document.body.dataset.state = 'no-weights';
    return;
  }
  const picker = $('model');
  picker.replaceChildren(...models.map((m) => new Option(m.title, m.model)), new Option('Your own model…', 'custom'));
  picker.hidden = false;
  const wanted = models.find((m) => m.model === params.get('model')) ?? models[0];
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
    state.starting = loadSiteModel(wanted, download);
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
