// The page's measuring modes, read by `cargo xtask bench-web` and the browser tests:
// ?bench=N (timed passes on a drawn picture, one JSON report) and ?soak=N (memory held
// before and after N camera frames). Both put their report in #bench-result and on window.

import { probePicture, median } from './frames.js';

const $ = (id) => document.getElementById(id);

function report(key, value) {
  window[key] = value;
  const out = $('bench-result');
  out.textContent = JSON.stringify(value, null, 1);
  out.hidden = false;
}

/**
 * The benchmark (?bench=N): `runs` timed passes of `classifier` on a drawn picture after
 * `warmup`, each through `classify(bitmap, cams)` (the page's: handed over, classified, the
 * top-5 and overlay shown) and timed by it. With `withCams` every run is a pair, one pass
 * without activation maps and one with them (in turns, which goes first), so that their
 * cost is measured side by side on the same noisy machine. `layers` adds per-layer times.
 */
export async function runBenchmark({ classifier, classify, runs, warmup, withCams, layers, loadMs }) {
  const bitmap = await probePicture();
  const times = [];
  const camTimes = [];
  const uploads = [];
  const gpu = [];
  let first = null;
  for (let i = 0; i < warmup + runs; i++) {
    for (const cams of withCams ? (i % 2 ? [true, false] : [false, true]) : [false]) {
      const { ms, uploadMs, gpuMs } = await classify(bitmap, cams);
      first ??= ms;
      if (i < warmup) continue;
      (cams ? camTimes : times).push(ms);
      if (cams) continue;
      uploads.push(uploadMs);
      if (gpuMs != null) gpu.push(gpuMs);
    }
  }
  const range = (v) => ({ median: median(v), min: Math.min(...v), max: Math.max(...v) });
  const { stats } = classifier;
  const result = {
    engine: 'inception-webgpu',
    model: stats.model,
    backend: classifier.choice,
    adapter: classifier.device,
    userAgent: navigator.userAgent,
    image: `${bitmap.width}x${bitmap.height}`,
    runs, warmup,
    timing_ms: range(times),
    // of which handing the image over: the copy into the texture, or the canvas's pixels
    upload_ms: { median: median(uploads) },
    gpu_ms: gpu.length ? range(gpu) : null,
    // with cams: the passes with activation maps (computed, read back and drawn), and their
    // median over that of the passes without
    cam_ms: withCams ? range(camTimes) : undefined,
    cam_ratio: withCams ? median(camTimes) / median(times) : undefined,
    first_run_ms: first,
    load_ms: loadMs,
    autotune_ms: classifier.kernels?.tuneMs ?? null,
    tiles: classifier.kernels?.tiles ?? null,
    gflops: 2 * stats.multiplyAdds / (median(times) * 1e6),
    top5: await classifier.classify(bitmap),
    stats,
  };
  bitmap.close();
  if (layers) {
    // per-layer time (on the GPU each layer timed alone), with achieved GFLOP/s
    result.layers = (await classifier.profile()).map((l) => ({
      layer: l.layer, kernel: l.kernel, ms: +l.ms.toFixed(3), gflops: l.multiplyAdds ? +(2 * l.multiplyAdds / (l.ms * 1e6)).toFixed(2) : null,
    }));
  }
  report('__bench', result);
}

const shownFrames = () => Number(document.body.dataset.frames || 0);

/**
 * What the page holds now: the JS heap after a collection (Chromium with --expose-gc and
 * --enable-precise-memory-info gives exact figures; otherwise null or rounded), the wasm
 * memory of the engine's module and of the CPU worker's, and the live GPU objects.
 */
async function memoryNow(classifier) {
  // With no frame in flight (`exclusive`), and two asynchronous collections run from an
  // empty stack: a plain gc() while the camera runs leaves 1.2 MB frames of pixels
  // reachable, and the CPU backend's heap then read anywhere from 9.6 to 31.8 MB from
  // sample to sample (one collection: within 18%); this way two samples 100 frames apart
  // agree within 0.1%.
  for (let i = 0; i < 2; i++) await window.gc?.({ type: 'major', execution: 'async' });
  return {
    frames: shownFrames(),
    seconds: +(performance.now() / 1000).toFixed(1),
    jsHeapBytes: performance.memory?.usedJSHeapSize ?? null,
    ...await classifier.memory(),
  };
}

/**
 * The soak (?soak=N): once `settled()` (the start-up work done), `frames` camera frames
 * after `warmup` more, memory sampled at both ends with `exclusive` (the camera held);
 * `running()` says whether the camera still runs, `stop()` stops it at the end.
 */
export async function runSoak({ classifier, frames, warmup, settled, running, exclusive, stop }) {
  const untilFrames = async (n) => {
    while (shownFrames() < n) {
      if (!running()) throw new Error(`the camera stopped after ${shownFrames()} frames`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  try {
    await settled;
    await untilFrames(shownFrames() + warmup);
    const start = await exclusive(() => memoryNow(classifier()));
    await untilFrames(start.frames + frames);
    const end = await exclusive(() => memoryNow(classifier()));
    stop();
    const change = (a, b) => (a ? +(100 * (b - a) / a).toFixed(2) : null);
    report('__soak', {
      backend: document.body.dataset.backend,
      model: classifier().model,
      frames: end.frames - start.frames,
      msPerFrame: +(1000 * (end.seconds - start.seconds) / (end.frames - start.frames)).toFixed(1),
      start, end,
      changePercent: {
        jsHeap: change(start.jsHeapBytes, end.jsHeapBytes),
        wasm: change(start.wasmBytes, end.wasmBytes),
        workerWasm: change(start.workerWasmBytes, end.workerWasmBytes),
      },
      gpuObjectsEqual: JSON.stringify(start.gpuObjects) === JSON.stringify(end.gpuObjects),
    });
  } catch (e) {
    report('__soak', { error: e.message });
  }
}
