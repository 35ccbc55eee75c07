// The engines networks run on, opened once per page and shared by every classifier (a model
// switch builds on the same GPU device and the same CPU worker): WebGPU where the browser
// offers an adapter, and the CPU (WebAssembly SIMD: on every core in a worker where the
// page is cross-origin isolated, as wasm threads share memory only there; on the page's own
// thread otherwise, with the same results). Used by api.js.
//
// One wasm build per page: pkg/ where the page is not isolated; where it is, the threads
// build the CPU worker runs (pkg-threads/, or pkg-threads-relaxed/ where the browser has
// relaxed SIMD) serves the page's own thread too (the GPU engine, the activation maps), so
// that an isolated page downloads one module (1.31 MB) instead of two (1.03 MB more; 357 KB
// gzipped: a first visit sent 6.53 MB instead of 6.90 with `bench-web --first-visit`).

import { startThreadedCpu, hasRelaxedSimd } from './threaded-cpu.js';

let compiled = null; // the promise of the page's wasm module: { wasm (its exports), dir, threads }
let cpu = null; // the CPU engine's promise
let gpu = null; // the GPU engine's promise: { engine } or { engine: null, why }
let gpuOpen = null; // the engine it resolved to

/** An Error with `kind` ('engine', 'webgpu', 'weights'): what pages tell the user by. */
export const failure = (kind, message) => Object.assign(new Error(message), { kind });

/**
 * Compiles the page's wasm module (once; `threads` and `relaxed` as for the CPU engine
 * decide which); rejects with kind 'engine' where it cannot run.
 */
export function compile({ threads, relaxed = true } = {}) {
  compiled ??= (async () => {
    const count = threadCount(threads);
    if (count > 1 && self.crossOriginIsolated) {
      const dir = relaxed && hasRelaxedSimd() ? 'pkg-threads-relaxed/' : 'pkg-threads/';
      const module = await instantiate(dir).catch((e) => console.info(`no ${dir} build here (${e.message}): pkg/ then`));
      if (module) return { ...module, threads: count };
    }
    return { ...await instantiate('pkg/'), threads: 1 };
  })().then((module) => (current = module), (e) => {
    compiled = null;
    // the module uses WebAssembly SIMD: browsers from before 2021-2023 refuse to compile it
    throw failure('engine', 'This browser cannot run the engine, which needs WebAssembly with SIMD ' +
      `(Chrome or Edge 91, Firefox 89, Safari 16.4 or later): ${e.message}`);
  });
  return compiled;
}

const builds = new Map(); // dir -> the promise of { wasm, dir }

/** The wasm build in `dir` ('pkg/', 'pkg-threads/'...), imported and instantiated once. */
function instantiate(dir) {
  if (!builds.has(dir)) {
    builds.set(dir, (async () => {
      const wasm = await import(`./${dir}inception.js`);
      await wasm.default();
      return { wasm, dir };
    })());
    builds.get(dir).catch(() => builds.delete(dir));
  }
  return builds.get(dir);
}

const threadCount = (threads) => Math.min(threads || navigator.hardwareConcurrency || 1, 16);

/** The page's wasm module's exports (after compile()). */
export function wasm() {
  if (!current) throw new Error('the engine is not loaded yet: call load() (or ready()) first');
  return current.wasm;
}
let current = null; // what compile() resolved to

/** The titles of the networks the engine builds, in words (for errors about files). */
export const networks = () => wasm().modelTitles();

/**
 * The CPU engine (opened on the first call; later calls get the same one): compile()'s
 * threads in a worker on its module where it is a threads build, else on the page's thread.
 */
export function cpuEngineShared(options = {}) {
  cpu ??= compile(options).then(async ({ dir, threads }) => {
    if (threads > 1) {
      try {
        return await startThreadedCpu(threads, dir);
      } catch (e) {
        console.info('wasm threads are not available here; the CPU backend runs on one thread:', e.message);
      }
    }
    // (a threads build without its pool has no thread to run on: the one-thread build then)
    return (await instantiate('pkg/')).wasm.cpuEngine();
  });
  return cpu;
}

/**
 * The WebGPU engine ({ engine }), or why there is none ({ engine: null, why }, in words).
 * Opened on the first call, and again after `forgetGpu` (its device was lost).
 */
export function gpuEngineShared() {
  gpu ??= compile().then(async ({ wasm }) => {
    if (!navigator.gpu) return { engine: null, why: 'this browser does not offer WebGPU' };
    try {
      const engine = (gpuOpen = await wasm.openEngine());
      engine.device().lost.then(() => forgetGpu(engine));
      return { engine };
    } catch (e) {
      console.info('opening a WebGPU device failed:', e);
      return {
        engine: null,
        why: 'this browser has WebGPU but offers no GPU adapter to this page ' +
          '(the GPU may be blocklisted, or hardware acceleration turned off)',
      };
    }
  });
  return gpu;
}

/** `engine`'s device was lost: the next gpuEngineShared() opens a new one. */
export function forgetGpu(engine) {
  if (gpuOpen === engine) [gpu, gpuOpen] = [null, null];
}

/** The wasm builds this page loaded ('pkg/', 'pkg-threads-relaxed/'...): for its offline copy. */
export function wasmBuilds() {
  return [...builds.keys()];
}

/** `engine`'s device in words: the browser's description of its adapter where it gives one. */
export function adapterName(engine) {
  const info = engine.device?.()?.adapterInfo;
  const words = info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean) : [];
  return words.length ? [...new Set(words)].join(' ') : engine.describe();
}
