// The CPU backend on several threads, in a worker of its own: the engine built with wasm
// threads (pkg-threads/, or pkg-threads-relaxed/ with relaxed SIMD's fused multiply-add:
// shared memory, rayon's pool in further workers). It runs here and
// not on the page's thread because a thread waiting for the pool must block, which only
// workers may (and the page stays responsive while a frame is classified).
//
// Messages in: {id, op, args}; out: {id, result} or {id, error: {name, message}}.
//   start {threads, dir}            -> the engine in words (dir: the threads build to run)
//   load {model, bytes, labels, compute} -> {handle, stats}
//   run {handle, rgba, width, height} -> the classification JSON
//   setCams {handle, on}            (activation maps in each run's result)
//   profile {handle}                -> the per-layer JSON
//   architecture {handle}           -> the blocks-and-branches JSON
//   activation {handle, tensor}     -> a Float32Array
//   free {handle}
//   memory                          -> this module's memoryReport JSON (wasm memory, GPU objects)
let engine = null;
let memoryReport = null;
const classifiers = new Map();
let next = 1;

const ops = {
  async start({ threads, dir }) {
    if (!['pkg-threads/', 'pkg-threads-relaxed/'].includes(dir)) throw new Error(`no threads build ${dir}`);
    const pkg = await import(`./${dir}inception.js`);
    await pkg.default();
    // wasm-bindgen-rayon starts its threads from blob: URLs; a policy that forbids them
    // blocks them without an error, but with this event
    const blocked = new Promise((_, reject) => self.addEventListener('securitypolicyviolation', (e) =>
      reject(new Error(`the page's Content-Security-Policy blocks its threads (${e.effectiveDirective} ${e.blockedURI})`))));
    await Promise.race([pkg.initThreadPool(threads), blocked]);
    engine = pkg.cpuEngine();
    memoryReport = pkg.memoryReport;
    return engine.describe();
  },
  load({ model, bytes, labels, compute }) {
    const classifier = engine.load(model, bytes, labels, compute);
    const handle = next++;
    classifiers.set(handle, classifier);
    return { handle, stats: classifier.stats() };
  },
  async run({ handle, rgba, width, height }) {
    const classifier = classifiers.get(handle);
    classifier.setImage(rgba, width, height);
    return classifier.run();
  },
  setCams({ handle, on }) {
    classifiers.get(handle).setCams(on);
  },
  profile({ handle }) {
    return classifiers.get(handle).profile();
  },
  architecture({ handle }) {
    return classifiers.get(handle).architecture();
  },
  activation({ handle, tensor }) {
    return classifiers.get(handle).activation(tensor);
  },
  memory() {
    return memoryReport();
  },
  free({ handle }) {
    classifiers.get(handle)?.free();
    classifiers.delete(handle);
  },
};

// One message at a time, in order: a pass never overlaps a load.
let queue = Promise.resolve();
self.onmessage = ({ data: { id, op, args } }) => {
  queue = queue.then(async () => {
    try {
      self.postMessage({ id, result: await ops[op](args) });
    } catch (e) {
      self.postMessage({ id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e) } });
    }
  });
};
