// The page's side of cpu-worker.js: an engine and classifiers with the same methods the
// page calls on the wasm ones (describe, load; backend, stats, setImage, setCams, run,
// profile, architecture, activation, free), each call a message to the worker.

/**
 * Whether this browser runs relaxed SIMD (a one-function module using
 * f32x4.relaxed_madd validates): the faster build then.
 */
export function hasRelaxedSimd() {
  const zeros = new Array(16).fill(0);
  const constant = [0xfd, 0x0c, ...zeros]; // v128.const 0
  return WebAssembly.validate(new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
    0x03, 0x02, 0x01, 0x00, // one function of that type
    0x0a, 0x3d, 0x01, 0x3b, 0x00, ...constant, ...constant, ...constant, 0xfd, 0x85, 0x02, 0x0b, // relaxed_madd
  ]));
}

// How long the thread pool may take to start before the page gives up on it and runs the
// CPU backend on one thread: wasm-bindgen-rayon starts its threads from blob: URLs, and a
// page whose policy forbids those never hears from them (no error is raised). Here they
// start in 0.1 s; a slow phone compiling the module takes a few seconds.
const START_TIMEOUT_MS = 15_000;

/**
 * Starts the worker and its `threads` threads on the threads build in `dir` ('pkg-threads/'
 * or 'pkg-threads-relaxed/'); rejects if this browser cannot.
 */
export async function startThreadedCpu(threads, dir) {
  const worker = new Worker(new URL('./cpu-worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let next = 1;
  const failAll = (message) => {
    for (const { reject } of pending.values()) reject(new Error(message));
    pending.clear();
  };
  worker.onmessage = ({ data: { id, result, error } }) => {
    const call = pending.get(id);
    pending.delete(id);
    if (error) call.reject(Object.assign(new Error(error.message), { name: error.name }));
    else call.resolve(result);
  };
  worker.onerror = (e) => failAll(`the CPU worker failed: ${e.message ?? 'it could not start'}`);
  const call = (op, args, transfer = []) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
  let timer;
  const startedInTime = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`its ${threads} threads did not start within ${START_TIMEOUT_MS / 1000} s ` +
      "(a Content-Security-Policy without blob: in worker-src blocks them)")), START_TIMEOUT_MS);
  });
  const description = await Promise.race([call('start', { threads, dir }), startedInTime])
    .catch((e) => { worker.terminate(); throw e; })
    .finally(() => clearTimeout(timer));

  class Classifier {
    constructor(handle, stats) {
      this.handle = handle;
      this.statsJson = stats;
      this.image = null;
    }
    backend() { return 'cpu'; }
    stats() { return this.statsJson; }
    setImage(rgba, width, height) { this.image = { rgba, width, height }; }
    run() {
      const { rgba, width, height } = this.image;
      return call('run', { handle: this.handle, rgba, width, height });
    }
    setCams(on) { return call('setCams', { handle: this.handle, on }); }
    profile() { return call('profile', { handle: this.handle }); }
    architecture() { return call('architecture', { handle: this.handle }); }
    activation(tensor) { return call('activation', { handle: this.handle, tensor }); }
    free() { call('free', { handle: this.handle }).catch(() => {}); }
  }

  return {
    threaded: true,
    describe: () => description,
    close: () => worker.terminate(),
    memoryReport: () => call('memory'), // the worker's module (its wasm memory is the pool's)
    async load(model, bytes, labels, compute) {
      const { handle, stats } = await call('load', { model, bytes, labels, compute });
      return new Classifier(handle, stats);
    },
  };
}
