// Building a network on an engine, and choosing the backend: the one asked for, the only
// one there is, the one measured faster on an earlier visit (kept in localStorage per
// adapter and model), or the faster of both measured now. Used by api.js, whose
// classifier also measures later (improve) with the same pieces.

import { cpuEngineShared, gpuEngineShared, adapterName } from './engines.js';
import { probePicture, timePasses } from './frames.js';
import { restoreKernels, tuneKernels } from './kernels.js';

// Passes timed per backend when measuring both (after a warm-up pass each).
const CHOICE_RUNS = 3;
// The GPU is tuned before the choice only if, untuned, it is within this factor of the CPU
// (a margin, not a measurement of every adapter: on llvmpipe the autotuned pass took 206-240
// ms against 236 ms untuned).
const TUNING_COULD_WIN = 2;

/**
 * The network built on `engine` from `source`; on the GPU warmed up (every shader compiled
 * by a first pass) unless `warm` is false, with the kernels chosen on an earlier visit, or
 * tuned now where `tune` is 'now'. Returns { engine, net, kernels } (kernels: null untuned).
 */
export async function buildOn(engine, { bytes, name, labels, compute }, { warm = true, tune = 'later', onProgress = () => {} } = {}) {
  const net = await oneAtATime(engine, () => engine.load(name, bytes, labels, compute));
  if (net.backend() !== 'gpu') return { engine, net, kernels: null };
  if (warm) {
    onProgress({ phase: 'compile' });
    const side = JSON.parse(net.stats()).inputSize;
    net.texture(side, side);
    await net.run();
  }
  let kernels = restoreKernels(engine, net);
  if (!kernels && tune === 'now') {
    onProgress({ phase: 'tune' });
    kernels = await tuneKernels(engine, net);
  }
  return { engine, net, kernels };
}

const building = new WeakMap(); // engine -> its last build

/** Runs `work` (a build on `engine`) after the builds asked of it before: one at a time each. */
function oneAtATime(engine, work) {
  const run = (building.get(engine) ?? Promise.resolve()).then(work);
  building.set(engine, run.catch(() => {}));
  return run;
}

// (per compute asked: int8 and float32 on the CPU are different speeds to measure against)
const choiceKey = (gpu, { name, compute }) => `inception.backend.${adapterName(gpu)}.${name}.${compute ?? 'auto'}`;

/**
 * Times `onGpu` against `onCpu` (buildOn's objects) and returns the choice, remembered under
 * `key`; the GPU is tuned first (then timed again) where tuning could make it the faster.
 * Each timing, and each tuning step, runs through `step(work)` (a classifier's: the network
 * to itself); with `between`, that is awaited between them and the kernels are tuned a
 * candidate at a time (improve()), else at once (load()).
 */
export async function measureBoth(onGpu, onCpu, key, { autotune = true, step = (work) => work(), between = null, onProgress = () => {} } = {}) {
  const time = ({ engine, net }) => step(() => timed(engine, net));
  onProgress({ phase: 'measure' });
  await between?.();
  let gpuMs = await time(onGpu);
  await between?.();
  const cpuMs = await time(onCpu);
  if (gpuMs < TUNING_COULD_WIN * cpuMs && !onGpu.kernels && autotune) {
    onProgress({ phase: 'tune' });
    onGpu.kernels = await tuneKernels(onGpu.engine, onGpu.net, { step, between });
    gpuMs = await time(onGpu);
  }
  return decide(gpuMs, cpuMs, key);
}

/** The faster of a GPU and a CPU time, remembered under `key` with both figures. */
function decide(gpuMs, cpuMs, key) {
  const name = cpuMs < gpuMs ? 'cpu' : 'gpu';
  const figures = `GPU ${gpuMs.toFixed(0)} ms, CPU ${cpuMs.toFixed(0)} ms per image`;
  const choice = { name, reason: `measured faster here (${figures})`, gpuMs, cpuMs };
  if (key) localStorage.setItem(key, JSON.stringify(choice));
  return choice;
}

/** Median milliseconds of CHOICE_RUNS passes of `net` on the probe picture. */
async function timed(engine, net) {
  const bitmap = await probePicture();
  try { return await timePasses(engine, net, bitmap, CHOICE_RUNS); } finally { bitmap.close(); }
}

/**
 * The network on the backend to use here: the one asked for; the CPU without a GPU; else
 * the faster of both, measured once per adapter and model (with `start: 'fast'` the CPU
 * runs meanwhile and improve() measures). Returns buildOn's object with `choice` ({ name,
 * reason, gpuMs, cpuMs }) and `later` (what improve() has to do).
 */
export async function choose(source, { backend = 'auto', start = 'measured', autotune = true, threads, relaxed, onProgress = () => {} }) {
  const tune = !autotune ? 'off' : start === 'fast' ? 'later' : 'now';
  const build = (engine, options) => buildOn(engine, source, { onProgress, tune, ...options });
  const { engine: gpu, why } = backend === 'cpu' ? { engine: null } : await gpuEngineShared();
  const cpu = backend === 'gpu' ? null : await cpuEngineShared({ threads, relaxed });
  const untuned = (built) => (built.net.backend() === 'gpu' && !built.kernels && tune === 'later' ? { tune: true } : null);
  if (!gpu || !cpu) {
    const built = await build(gpu ?? cpu);
    const reason = backend !== 'auto' ? 'asked for' : `no WebGPU adapter: ${why}`;
    return { ...built, choice: { name: built.net.backend(), reason }, later: untuned(built) };
  }
  const key = source.name && choiceKey(gpu, source);
  const saved = key && JSON.parse(localStorage.getItem(key) ?? 'null');
  if (saved?.name === 'gpu' || saved?.name === 'cpu') {
    const built = await build(saved.name === 'gpu' ? gpu : cpu);
    return { ...built, choice: { ...saved, reason: `${saved.reason}, measured on an earlier visit` }, later: untuned(built) };
  }
  if (start === 'fast') {
    // the CPU is ready in a moment: it runs the first frames while improve() measures the GPU
    const built = await build(cpu);
    return { ...built, choice: { name: 'cpu', reason: 'the GPU is being measured meanwhile' }, later: { measure: key } };
  }
  const onCpu = await build(cpu);
  const onGpu = await build(gpu, { tune: 'off' });
  const choice = await measureBoth(onGpu, onCpu, key, { autotune, onProgress });
  const [chosen, other] = choice.name === 'gpu' ? [onGpu, onCpu] : [onCpu, onGpu];
  other.net.free();
  return { ...chosen, choice, later: null };
}

