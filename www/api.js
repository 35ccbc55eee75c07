// The engine as one small ES module, for this site's page (app.js runs on it alone) and for
// other pages (the README shows a whole webcam page):
//
//   import { load } from './api.js';
//   const classifier = await load({ model: 'bvlc', onProgress: ({ loaded, total }) => ... });
//   const top5 = await classifier.classify(videoOrImageOrBitmap);  // [{index, label, probability}]
//   const seen = await classifier.classify(image, { cams: true });  // each with its activation map
//   context.putImageData(heatmap(seen[0].cam), 0, 0);                // where it saw the top class
//   classifier.close();
//
// A classifier looks after itself: it runs on the faster backend measured here (remembered
// per adapter and model), tunes the GPU's kernels once, and after a lost GPU device builds
// the network again on a new one (events say so). Types and the rest: api.d.ts.
// Everything is fetched relative to this file, so the folder `cargo xtask dist` writes can
// be served anywhere (or published to npm as it is: it has a package.json).

import { compile, wasm, failure, networks, cpuEngineShared, gpuEngineShared, forgetGpu, wasmBuilds, adapterName } from './engines.js';
import { upload, sizeOf, isSoftware, deviceLost } from './frames.js';
import { tuneKernels } from './kernels.js';
import { buildOn, choose, measureBoth } from './choice.js';
import { siteModels, downloadWeights, download, forgetWeights } from './weights.js';
import { fitWithin, maxSide } from './images.js';

export { wasmBuilds };

/**
 * The `perBranch` strongest feature maps (by energy) of each channel range of a C x H x W
 * tensor, as one RGBA atlas: `ranges` holds (first channel, channels) pairs, a row of tiles each.
 */
export const featureMapTiles = (values, c, h, w, ranges, perBranch) => wasm().featureMapTiles(values, c, h, w, ranges, perBranch);

const here = new URL('./', import.meta.url);
// Drivers reset, laptops switch GPUs, phones reclaim a background tab's GPU: a classifier
// builds its network again on a new device. A GPU lost this many times within
// LOSS_WINDOW_MS is given up for the CPU rather than recovered in a loop.
const LOSSES_BEFORE_CPU = 3;
const LOSS_WINDOW_MS = 60_000;
let losses = []; // when GPU devices were lost (performance.now()), for the whole page

const nextPaint = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

/**
 * Compiles the engine and opens the backends `load` would use, so that a page can say early
 * what this browser runs (later loads share them); `onProgress` hears 'engine' (compiled),
 * 'cpu' and 'gpu' (each backend open). Resolves to { gpu, why }: whether WebGPU runs here,
 * and why not. Rejects with kind 'engine' where the engine cannot run, 'webgpu' (with `why`)
 * where `backend: 'gpu'` is asked for and there is none.
 */
export async function ready({ backend = 'auto', threads, relaxed, onProgress = () => {} } = {}) {
  if (!['auto', 'gpu', 'cpu'].includes(backend)) throw new TypeError(`backend is 'auto', 'gpu' or 'cpu', not ${backend}`);
  await compile({ threads, relaxed });
  onProgress({ phase: 'engine' });
  // the CPU first, then the GPU: opened side by side they take turns on the same cores, and
  // the CPU that runs a first visit's first frames is ready later
  await cpuEngineShared({ threads, relaxed });
  onProgress({ phase: 'cpu' });
  const { engine, why } = backend === 'cpu' ? { engine: null, why: 'the CPU was asked for' } : await gpuEngineShared();
  if (engine) onProgress({ phase: 'gpu' });
  if (!engine && backend === 'gpu') {
    throw Object.assign(failure('webgpu', `The GPU backend was asked for, but ${why}. Use a current Chrome, Edge or ` +
      'Safari (or Firefox with WebGPU enabled) on a secure (https) page.'), { why });
  }
  return { gpu: !!engine, why: why ?? null };
}

/** Loads a classifier; see api.d.ts for the options. */
export async function load(options = {}) {
  const { model, weights, labels, start = 'measured', compute = 'auto', onProgress = () => {} } = options;
  if (!['measured', 'fast'].includes(start)) throw new TypeError(`start is 'measured' or 'fast', not ${start}`);
  if (!['auto', 'f32', 'int8'].includes(compute)) throw new TypeError(`compute is 'auto', 'f32' or 'int8', not ${compute}`);
  const engines = ready({ ...options, onProgress: () => {} }); // compiles and opens while the weights download
  engines.catch(() => {});
  const source = await weightsOf(model, weights, onProgress);
  await engines;
  onProgress({ phase: 'build' });
  source.labels = Array.isArray(labels) ? labels.join('\n') : labels ?? null;
  source.compute = compute;
  let chosen;
  try {
    chosen = await choose(source, options);
  } catch (e) {
    await source.forget?.(); // never keep a file that failed
    if (e.kind) throw e;
    const what = e.name === 'WeightsError' || e.name === 'UsageError' ? e.message : `${e.name}: ${e.message}`;
    throw failure('weights', source.name
      ? `These weights do not fit the ${source.title ?? source.name} model: ${what}`
      : `This file does not fit any network the engine runs (${networks()}): ${what}`);
  }
  const { forget, ...kept } = source;
  return new Classifier(chosen, kept, options);
}

/** The weights: { bytes, name, title, precision, forget() (drops a cached download) }. */
async function weightsOf(model, weights, onProgress) {
  const progress = (p) => onProgress({ phase: 'download', ...p });
  if (weights == null) {
    const dir = new URL('weights/', here);
    const models = await siteModels(dir);
    const entry = model ? models.find((m) => m.model === model) : models[0];
    if (!entry) {
      throw failure('weights', `${model ? `No weights for "${model}"` : 'No model weights'} next to api.js ` +
        `(weights/models.json lists ${models.map((m) => m.model).join(', ') || 'none'}); pass \`weights\``);
    }
    const { bytes, url } = await downloadWeights(entry, dir, progress);
    const forget = () => forgetWeights(url);
    return { bytes, name: entry.model, title: entry.title, precision: entry.precision ?? 'float32', forget };
  }
  let bytes;
  if (typeof weights === 'string' || weights instanceof URL) {
    bytes = await download(new URL(weights, location.href).href, 0, String(weights), progress);
  } else if (weights instanceof Blob) {
    bytes = new Uint8Array(await weights.arrayBuffer());
  } else if (weights instanceof ArrayBuffer || ArrayBuffer.isView(weights)) {
    bytes = weights instanceof Uint8Array ? weights : new Uint8Array(weights.buffer ?? weights);
  } else {
    throw new TypeError('weights is a URL, a Blob, an ArrayBuffer or a Uint8Array');
  }
  return { bytes, name: model ?? null, title: null, precision: null };
}

/**
 * An activation map (`cam` of a prediction made with `{ cams: true }`) as an image of
 * `size` x `size` pixels to lay over the prediction's `crop`: the map resampled smoothly,
 * normalised, in "jet" colours with an alpha rising with the activation.
 */
export function heatmap(cam, size = 224) {
  return new ImageData(wasm().camHeatmap(Float32Array.from(cam.values), cam.width, cam.height, size), size, size);
}

/** Whether `engine`'s device is lost now or within a moment (a failed pass may come first). */
function lostWithin(engine, ms) {
  if (!engine.device) return false;
  const moment = new Promise((resolve) => setTimeout(() => resolve(false), ms));
  return Promise.race([engine.device().lost.then(() => true), moment]);
}

class Classifier extends EventTarget {
  #engine; // what the network runs on
  #net; // the network (a wasm object, or the CPU worker's handle)
  #stats;
  #source; // { bytes, name, labels }: to build again (the other backend, a new device)
  #options;
  #choice;
  #kernels;
  #later; // what improve() has to do: { measure: key } or { tune: true }
  #queue = Promise.resolve(); // calls on the network, one at a time
  #inflight = new Set(); // GPU passes submitted and not yet read back
  #cams = false;
  #closed = false;
  /** The last pass's { ms, uploadMs, gpuMs } (gpuMs where the GPU has timestamp queries). */
  lastPass = null;

  constructor({ engine, net, kernels, choice, later }, source, options) {
    super();
    this.#source = source;
    this.#options = options;
    this.#choice = choice;
    this.#later = later;
    this.precision = source.precision;
    this.#adopt({ engine, net, kernels });
  }

  #adopt({ engine, net, kernels }) {
    [this.#engine, this.#net, this.#kernels] = [engine, net, kernels];
    this.#stats = JSON.parse(net.stats());
    if (net.backend() === 'gpu') engine.device().lost.then((info) => { if (this.#engine === engine) this.#recover(info); });
  }

  get backend() { return this.#stats.backend; }
  /** Why this backend, in words: "asked for", "no WebGPU adapter: ...", or both measured figures. */
  get backendReason() { return this.#choice.reason; }
  /** What the network computes in: 'int8' or 'f32' on the CPU, the weight precision on the GPU. */
  get compute() { return this.#stats.compute; }
  /** Why, in words: "int8 asked", "the weights file has no int8 calibration (...)"... */
  get computeReason() { return this.#stats.computeReason; }
  /** { name, reason, gpuMs, cpuMs }: the backend choice with its figures where measured. */
  get choice() { return { ...this.#choice }; }
  get model() { return this.#stats.model; }
  get title() { return this.#stats.title; }
  get classes() { return this.#stats.classes; }
  get inputSize() { return this.#stats.inputSize; }
  /** The network's figures (multiply-adds, tensors, memory...): the engine's stats(). */
  get stats() { return this.#stats; }
  /** What runs it, in words: the GPU adapter, or the CPU with its threads and SIMD. */
  get device() { return adapterName(this.#engine); }
  /** The GPU kernels' tile counts and tuning time ({ tiles, tuneMs }), null before tuning. */
  get kernels() { return this.#kernels; }
  /** Passes worth keeping in flight: 2 on a hardware GPU, 1 where the page's cores compute. */
  get framesInFlight() { return this.backend === 'gpu' && !isSoftware(this.#engine) ? 2 : 1; }
  /** The longest image side the backend takes: larger ones are scaled down first. */
  get maxSide() { return maxSide(this.#net, this.#engine.device?.()); }

  /** The crop the network sees of a `width` x `height` image: [x, y, width, height]. */
  crop(width, height) {
    return [...wasm().cropRegion(this.inputSize, this.#stats.resize, width, height)];
  }

  /** Runs `work` after the calls before it. */
  #turn(work) {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new Error('this classifier was closed');
      return work();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Runs `work` after the calls before it and once their passes are read back. */
  #exclusive(work) {
    return this.#turn(async () => {
      await Promise.allSettled(this.#inflight);
      return work();
    });
  }

  /**
   * The top-5 of an image, video frame, canvas, ImageBitmap, ImageData or Blob; with
   * `cams`, each with its activation map and the crop it lies over (see api.d.ts). On the GPU
   * the next call's image is handed over while this one's result is read back.
   */
  classify(source, { cams = false } = {}) {
    const engine = this.#engine;
    const submitted = this.#turn(() => this.#submit(source, cams));
    return submitted.then(({ result }) => result).catch(async (e) => {
      if (await lostWithin(engine, 500)) e.deviceLost = true; // recovery is under way (see devicelost)
      throw e;
    });
  }

  async #submit(source, cams) {
    if (cams !== this.#cams) {
      await this.#net.setCams(cams);
      this.#cams = cams;
    }
    const t0 = performance.now();
    const opened = []; // bitmaps made here, closed once the image is handed over
    const open = async (from) => { opened.push(await createImageBitmap(from)); return opened.at(-1); };
    let image = source instanceof Blob ? await open(source) : source;
    const [width, height] = sizeOf(image);
    let [w, h] = [width, height];
    try {
      if (!width || !height) throw new Error('the image has no pixels (a video before its first frame, or an image not yet loaded)');
      if (Math.max(width, height) > this.maxSide) {
        const whole = image instanceof ImageBitmap ? image : await open(image);
        image = await fitWithin(whole, this.maxSide);
        if (image !== whole) opened.push(image);
        [w, h] = sizeOf(image);
      }
      await upload(this.#engine, this.#net, image, w, h);
    } finally {
      opened.forEach((bitmap) => bitmap.close());
    }
    const uploadMs = performance.now() - t0;
    // the crop in the source's pixels (a source scaled down to fit was classified smaller)
    const crop = cams ? this.crop(w, h).map((v) => (v * width) / w) : null;
    const gpu = this.#net.backend() === 'gpu';
    const pass = this.#net.run(); // on the GPU submitted when it returns: the texture may be refilled
    const result = pass.then((json) => {
      const { top, gpuMs } = JSON.parse(json);
      this.lastPass = { ms: performance.now() - t0, uploadMs, gpuMs: gpuMs ?? null };
      return crop ? top.map((t) => ({ ...t, crop })) : top;
    });
    if (!gpu) await result.catch(() => {});
    this.#inflight.add(result);
    result.catch(() => {}).finally(() => this.#inflight.delete(result));
    return { result };
  }

  /**
   * Work that makes later passes faster, done a step at a time with `between()` awaited
   * between steps (a page passes "until the next camera frame is shown"; default the next
   * paint): with `start: 'fast'`, the GPU built and measured against the CPU (and the
   * classifier moved to it if faster: a 'backendchange' event); the GPU's kernels tuned.
   * Resolves when there is nothing left to do.
   */
  async improve({ between = nextPaint } = {}) {
    const later = this.#later;
    this.#later = null;
    if (!later || this.#closed) return;
    if (later.measure !== undefined) await this.#measure(later.measure, between);
    else if (later.tune) await this.#tune(between);
  }

  async #tune(between) {
    const net = this.#net;
    const step = (work) => this.#exclusive(() => {
      if (this.#net !== net) throw new Error('the network was replaced');
      return work();
    });
    this.#kernels = (await tuneKernels(this.#engine, net, { step, between })) ?? this.#kernels;
  }

  async #measure(key, between) {
    const cpuNet = this.#net;
    const replaced = () => this.#closed || this.#net !== cpuNet;
    const { engine: gpu, why } = await gpuEngineShared();
    if (!gpu) {
      this.#choice = { name: 'cpu', reason: `no WebGPU adapter: ${why}` };
      return this.dispatchEvent(new Event('backendchange'));
    }
    const built = await this.#exclusive(() => (replaced() ? null : buildOn(gpu, this.#source, { tune: 'off' })))
      .catch((e) => {
        console.info('the GPU could not be measured; the CPU runs on:', e.message);
        this.#choice = { name: 'cpu', reason: `the GPU failed to build (${e.message})` };
        return null;
      });
    if (!built) return this.dispatchEvent(new Event('backendchange'));
    // each timing and tuning step with the network to itself, between frames
    const step = (work) => this.#exclusive(() => {
      if (replaced()) throw new Error('the classifier was replaced');
      return work();
    });
    try {
      const onCpu = { engine: this.#engine, net: cpuNet };
      const choice = await measureBoth(built, onCpu, key, { autotune: this.#options.autotune !== false, step, between });
      await this.#exclusive(async () => {
        if (replaced()) return built.net.free();
        this.#choice = choice;
        if (choice.name !== 'gpu') return built.net.free();
        await this.#install(built);
        cpuNet.free();
      });
    } catch (e) {
      if (this.#net !== built.net) built.net.free(); // (a classifier closed meanwhile: not installed)
      if (this.#closed) return;
      console.info('the GPU measurement failed; the CPU runs on:', e.message);
      this.#choice = { name: 'cpu', reason: `the GPU measurement failed (${e.message})` };
    }
    if (!this.#closed) this.dispatchEvent(new Event('backendchange'));
  }

  /** Makes `built` the network that runs, with the activation maps as they were. */
  async #install(built) {
    this.#adopt(built);
    if (this.#cams) await built.net.setCams(true);
  }

  /** The GPU device was lost: the network is built again on a new one (or on the CPU). */
  #recover(info) {
    const dead = this.#engine;
    deviceLost(dead);
    forgetGpu(dead);
    if (this.#closed) return;
    const t0 = performance.now();
    losses = [...losses.filter((t) => t0 - t < LOSS_WINDOW_MS), t0];
    const toCpu = losses.length >= LOSSES_BEFORE_CPU;
    const count = losses.length;
    const recovered = this.#exclusive(async () => {
      const next = toCpu ? await cpuEngineShared(this.#options) : (await gpuEngineShared()).engine;
      if (!next) throw new Error((await gpuEngineShared()).why);
      // (no warm-up pass: the next frame compiles the shaders as it would, and is shown about a
      // second sooner: 1.9 s of the 4.3 s to the first frame here on SwiftShader)
      const built = await buildOn(next, this.#source, { warm: false, tune: 'off' });
      try {
        this.#net.free();
        dead.free();
      } catch { /* their device is gone */ }
      await this.#install(built);
      this.#choice = toCpu
        ? { name: 'cpu', reason: `the GPU was lost ${count} times within a minute` }
        : { ...this.#choice, reason: `${this.#choice.reason.replace(/; rebuilt after a lost device$/, '')}; rebuilt after a lost device` };
      this.dispatchEvent(new Event('backendchange'));
      return { seconds: (performance.now() - t0) / 1000 };
    });
    recovered.catch(() => {});
    const { reason, message } = info;
    this.dispatchEvent(new CustomEvent('devicelost', { detail: { reason, message, losses: count, toCpu, recovered } }));
  }

  /** The network's graph in parts, blocks and branches, with shapes, parameters and multiply-adds. */
  architecture() {
    return this.#turn(async () => JSON.parse(await this.#net.architecture()));
  }

  /** Each layer's time in one pass on the last image ({ layer, kernel, ms, multiplyAdds, nodes }). */
  profile() {
    return this.#exclusive(async () => JSON.parse(await this.#net.profile()));
  }

  /** A tensor of the last image's pass (by the architecture's `tensor` ids), channel-major. */
  activation(tensor) {
    return this.#exclusive(() => this.#net.activation(tensor));
  }

  /** `runs` passes on the last image: their milliseconds (GPU timestamps where there are). */
  passes(runs) {
    return this.#exclusive(async () => {
      const ms = [];
      let gpu = true;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const { gpuMs } = JSON.parse(await this.#net.run());
        gpu &&= gpuMs != null;
        ms.push(gpuMs ?? performance.now() - t0);
      }
      return { ms, timed: gpu ? 'GPU timestamps' : 'CPU clock' };
    });
  }

  /** The memory held: this module's wasm memory, the CPU worker's, the live GPU objects. */
  memory() {
    return this.#exclusive(async () => {
      const main = JSON.parse(wasm().memoryReport());
      const cpu = await cpuEngineShared(this.#options);
      const worker = cpu.memoryReport ? JSON.parse(await cpu.memoryReport()) : null;
      return { wasmBytes: main.wasmBytes, workerWasmBytes: worker?.wasmBytes ?? null, gpuObjects: main.gpu };
    });
  }

  /** Frees the network (GPU buffers, wasm memory) once its passes are done; later calls reject. */
  close() {
    this.#exclusive(() => {
      this.#closed = true;
      this.#net.free();
    }).catch(() => {}); // (closed already)
  }
}
