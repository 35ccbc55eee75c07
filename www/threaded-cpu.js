// The page's side of cpu-worker.js: an engine and classifiers with the same methods the
// page calls on the wasm ones (describe, load; backend, stats, setImage, run, profile,
// free), each call a message to the worker.

/** Starts the worker and its `threads` threads; rejects if this browser cannot. */
export async function startThreadedCpu(threads) {
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
  const description = await call('start', { threads });

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
    profile() { return call('profile', { handle: this.handle }); }
    free() { call('free', { handle: this.handle }).catch(() => {}); }
  }

  return {
    threaded: true,
    describe: () => description,
    async load(model, bytes, labels) {
      const { handle, stats } = await call('load', { model, bytes, labels });
      return new Classifier(handle, stats);
    },
  };
}
