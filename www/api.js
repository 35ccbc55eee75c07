// The engine as a small ES module for other pages (the README shows a whole webcam page):
//
//   import { load } from './api.js';
//   const classifier = await load({ model: 'bvlc', onProgress: ({ loaded, total }) => ... });
//   const top5 = await classifier.classify(videoOrImageOrBitmap);  // [{index, label, probability}]
//   const seen = await classifier.classify(image, { cams: true });  // each with its activation map
//   context.putImageData(heatmap(seen[0].cam), 0, 0);                // where it saw the top class
//   classifier.close();
//
// Types: api.d.ts. Everything is fetched relative to this file, so the folder `cargo xtask
// dist` writes can be served anywhere (or published to npm as it is: it has a package.json).

import init, { openEngine, cpuEngine, camHeatmap, cropRegion } from './pkg/inception.js';
import { startThreadedCpu } from './threaded-cpu.js';
import { siteModels, downloadWeights, download } from './weights.js';
import { fitWithin, maxSide } from './images.js';

const here = new URL('./', import.meta.url);
let compiled = null;
// passes timed per backend when `backend: 'auto'` measures both (after a warm-up pass each)
const CHOICE_RUNS = 3;

/** Loads a classifier; see api.d.ts for the options. */
export async function load({ model, weights, labels, backend = 'auto', threads, onProgress } = {}) {
  if (!['auto', 'gpu', 'cpu'].includes(backend)) throw new TypeError(`backend is 'auto', 'gpu' or 'cpu', not ${backend}`);
  compiled ??= init();
  const { bytes, name, precision } = await weightsBytes(model, weights, onProgress);
  await compiled;
  const labelText = Array.isArray(labels) ? labels.join('\n') : labels ?? null;
  const gpuEngine = backend === 'cpu' ? null : await openGpu(backend === 'gpu');
  const cpu = backend === 'gpu' ? null : await openCpu(threads);
  const build = (engine) => engine.load(name, bytes, labelText);
  let chosen;
  if (!gpuEngine) chosen = { engine: cpu, classifier: await build(cpu), why: backend === 'cpu' ? 'asked for' : 'no WebGPU adapter' };
  else if (!cpu) chosen = { engine: gpuEngine, classifier: await build(gpuEngine), why: 'asked for' };
  else chosen = await faster(gpuEngine, cpu, await build(gpuEngine), await build(cpu));
  return new Classifier(chosen, precision, [gpuEngine, cpu].filter((e) => e && e !== chosen.engine));
}

async function weightsBytes(model, weights, onProgress) {
  if (weights == null) {
    const dir = new URL('weights/', here);
    const models = await siteModels(dir);
    const entry = model ? models.find((m) => m.model === model) : models[0];
    if (!entry) {
      throw new Error(`${model ? `No weights for "${model}"` : 'No model weights'} next to api.js ` +
        `(weights/models.json lists ${models.map((m) => m.model).join(', ') || 'none'}); pass \`weights\``);
    }
    return { bytes: (await downloadWeights(entry, dir, onProgress)).bytes, name: entry.model, precision: entry.precision ?? null };
  }
  let bytes;
  if (typeof weights === 'string' || weights instanceof URL) {
    bytes = await download(new URL(weights, location.href).href, 0, String(weights), onProgress);
  } else if (weights instanceof Blob) {
    bytes = new Uint8Array(await weights.arrayBuffer());
  } else if (weights instanceof ArrayBuffer || ArrayBuffer.isView(weights)) {
    bytes = weights instanceof Uint8Array ? weights : new Uint8Array(weights.buffer ?? weights);
  } else {
    throw new TypeError('weights is a URL, a Blob, an ArrayBuffer or a Uint8Array');
  }
  return { bytes, name: model ?? null, precision: null };
}

async function openGpu(required) {
  try {
    if (!navigator.gpu) throw new Error('this browser does not offer WebGPU');
    return await openEngine();
  } catch (e) {
    if (required) throw new Error(`The GPU backend was asked for, but ${e.message ?? e}`);
    return null;
  }
}

/** The CPU engine: on every core in a worker where the page is cross-origin isolated. */
async function openCpu(threads) {
  const count = Math.min(threads ?? navigator.hardwareConcurrency ?? 1, 16);
  if (count > 1 && self.crossOriginIsolated) {
    try {
      return await startThreadedCpu(count, true);
    } catch (e) {
      console.info('wasm threads are not available here; the CPU backend runs on one thread:', e.message);
    }
  }
  return cpuEngine();
}

/** The faster of two classifiers, timed on a drawn picture; the other is freed. */
async function faster(gpuEngine, cpu, onGpu, onCpu) {
  const canvas = new OffscreenCanvas(640, 480);
  const g = canvas.getContext('2d');
  g.fillStyle = '#e9c46a';
  g.fillRect(0, 0, 640, 480);
  g.fillStyle = '#2a9d8f';
  g.fillRect(160, 120, 320, 240);
  const bitmap = await createImageBitmap(canvas);
  const time = async (engine, classifier) => {
    const times = [];
    for (let i = 0; i <= CHOICE_RUNS; i++) {
      const t0 = performance.now();
      await runOn(engine, classifier, bitmap);
      if (i > 0) times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  };
  const [gpuMs, cpuMs] = [await time(gpuEngine, onGpu), await time(cpu, onCpu)];
  bitmap.close();
  const gpuWins = gpuMs <= cpuMs;
  (gpuWins ? onCpu : onGpu).free();
  const why = `measured faster (GPU ${gpuMs.toFixed(0)} ms, CPU ${cpuMs.toFixed(0)} ms)`;
  return gpuWins ? { engine: gpuEngine, classifier: onGpu, why } : { engine: cpu, classifier: onCpu, why };
}

/** Hands `bitmap` to the classifier and runs it: the parsed result. */
async function runOn(engine, classifier, bitmap) {
  if (classifier.backend() === 'gpu') {
    const texture = classifier.texture(bitmap.width, bitmap.height);
    engine.device().queue.copyExternalImageToTexture({ source: bitmap }, { texture }, [bitmap.width, bitmap.height]);
  } else {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = canvas.getContext('2d', { willReadFrequently: true });
    g.drawImage(bitmap, 0, 0);
    classifier.setImage(g.getImageData(0, 0, bitmap.width, bitmap.height).data, bitmap.width, bitmap.height);
  }
  return JSON.parse(await classifier.run());
}

/**
 * An activation map (`cam` of a prediction made with `{ cams: true }`) as an image of
 * `size` x `size` pixels to lay over the prediction's `crop`: the map resampled smoothly,
 * normalised, in "jet" colours with an alpha rising with the activation.
 */
export function heatmap(cam, size = 224) {
  return new ImageData(camHeatmap(Float32Array.from(cam.values), cam.width, cam.height, size), size, size);
}

class Classifier {
  #engine;
  #classifier;
  #others;
  #queue = Promise.resolve();
  #cams = false;
  #resize;

  constructor({ engine, classifier, why }, precision, others) {
    this.#engine = engine;
    this.#classifier = classifier;
    this.#others = others;
    const stats = JSON.parse(classifier.stats());
    this.backend = stats.backend;
    this.backendReason = why;
    this.model = stats.model;
    this.title = stats.title;
    this.classes = stats.classes;
    this.inputSize = stats.inputSize;
    this.#resize = stats.resize;
    this.precision = precision;
  }

  /**
   * The top-5 of an image, video frame, canvas, ImageBitmap, ImageData or Blob; with
   * `cams`, each with its activation map and the crop it lies over (see api.d.ts).
   */
  classify(source, { cams = false } = {}) {
    const run = this.#queue.then(async () => {
      if (!this.#classifier) throw new Error('this classifier was closed');
      if (cams !== this.#cams) {
        await this.#classifier.setCams(cams);
        this.#cams = cams;
      }
      const decoded = source instanceof ImageBitmap ? source : await createImageBitmap(source);
      const [width, height] = [decoded.width, decoded.height];
      const gpu = this.#classifier.backend() === 'gpu';
      const bitmap = await fitWithin(decoded, maxSide(this.#classifier, gpu && this.#engine.device()));
      if (bitmap !== decoded && decoded !== source) decoded.close();
      try {
        const { top } = await runOn(this.#engine, this.#classifier, bitmap);
        if (!cams) return top;
        // the crop in the source's pixels (a source scaled down to fit was classified smaller)
        const scale = width / bitmap.width;
        const crop = [...cropRegion(this.inputSize, this.#resize, bitmap.width, bitmap.height)].map((v) => v * scale);
        return top.map((t) => ({ ...t, crop }));
      } finally {
        if (bitmap !== source) bitmap.close();
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Frees the network (GPU buffers, wasm memory, the CPU worker). */
  close() {
    this.#queue.then(() => {
      this.#classifier?.free();
      this.#classifier = null;
      for (const engine of [this.#engine, ...this.#others]) engine.close?.();
    });
  }
}
