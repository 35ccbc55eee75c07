// The engines networks run on, opened once per page and shared by every classifier (a model
// switch builds on the same GPU device and the same CPU worker): WebGPU where the browser
// offers an adapter, and the CPU (WebAssembly SIMD: on every core in a worker where the
// page is cross-origin isolated, as wasm threads share memory only there; on the page's own
// thread otherwise, with the same results). Used by api.js.

import init, { openEngine, cpuEngine, modelTitles } from './pkg/inception.js';
import { startThreadedCpu } from './threaded-cpu.js';

let compiled = null;
let cpu = null; // the CPU engine's promise
let gpu = null; // the GPU engine's promise: { engine } or { engine: null, why }
let gpuOpen = null; // the engine it resolved to

const failure = (kind, message) => Object.assign(new Error(message), { kind });

/** Compiles the engine's wasm module (once); rejects with kind 'engine' where it cannot run. */
export function compile() {
  compiled ??= init().catch((e) => {
    compiled = null;
    // the module uses WebAssembly SIMD: browsers from before 2021-2023 refuse to compile it
    throw failure('engine', 'This browser cannot run the engine, which needs WebAssembly with SIMD ' +
      `(Chrome or Edge 91, Firefox 89, Safari 16.4 or later): ${e.message}`);
  });
  return compiled;
}

/** The titles of the networks the engine builds, in words (for errors about files). */
export const networks = () => modelTitles();

/**
 * The CPU engine (opened on the first call; later calls get the same one): `threads`
 * threads (default every core, at most 16), relaxed SIMD where `relaxed` and the browser
 * has it (its fused multiply-adds round differently from the one-thread build's).
 */
export function cpuEngineShared({ threads, relaxed = true } = {}) {
  cpu ??= compile().then(async () => {
    const count = Math.min(threads || navigator.hardwareConcurrency || 1, 16);
    if (count > 1 && self.crossOriginIsolated) {
      try {
        return await startThreadedCpu(count, relaxed);
      } catch (e) {
        console.info('wasm threads are not available here; the CPU backend runs on one thread:', e.message);
      }
    }
    return cpuEngine();
  });
  return cpu;
}

/**
 * The WebGPU engine ({ engine }), or why there is none ({ engine: null, why }, in words).
 * Opened on the first call, and again after `forgetGpu` (its device was lost).
 */
export function gpuEngineShared() {
  gpu ??= compile().then(async () => {
    if (!navigator.gpu) return { engine: null, why: 'this browser does not offer WebGPU' };
    try {
      const engine = (gpuOpen = await openEngine());
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

/** The wasm-threads build the CPU engine loaded ('pkg-threads/'...), or null: for the offline copy. */
export async function threadedBuild() {
  return cpu ? (await cpu).dir ?? null : null;
}

/** `engine`'s device in words: the browser's description of its adapter where it gives one. */
export function adapterName(engine) {
  const info = engine.device?.()?.adapterInfo;
  const words = info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean) : [];
  return words.length ? [...new Set(words)].join(' ') : engine.describe();
}
