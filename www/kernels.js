// The GPU's convolution kernels come in variants whose speed depends on the GPU: tuned once
// per adapter and model (the engine times each candidate), the choice kept in localStorage
// for later visits. Used by api.js.

import { adapterName } from './engines.js';

const keyOf = (engine, net) => `inception.kernels.${adapterName(engine)}.${JSON.parse(net.stats()).model}`;

/** {"4x8": 40, "4x4": 17}: how many convolutions use each tile of a kernel choice. */
function tileCounts(json) {
  const counts = {};
  for (const [, kernel] of JSON.parse(json)) counts[kernel] = (counts[kernel] ?? 0) + 1;
  return counts;
}

/** Applies the kernels chosen on an earlier visit; their tile counts, or null if there are none. */
export function restoreKernels(engine, net) {
  const key = keyOf(engine, net);
  const saved = localStorage.getItem(key);
  if (!saved) return null;
  try {
    net.setKernels(saved);
    return { tiles: tileCounts(saved), tuneMs: null };
  } catch {
    localStorage.removeItem(key); // made by another build
    return null;
  }
}

/**
 * Tunes `net`'s kernels: all at once, or where `between` is given one candidate kernel per
 * step (about one pass), `step(work)` running each with the network to itself and
 * `between()` awaited in between (frames run meanwhile on the fastest kernels measured so
 * far). The same measurements and choice either way. Returns { tiles, tuneMs }, or null
 * where tuning is not possible (no timestamp queries) or stopped (the network was freed).
 */
export async function tuneKernels(engine, net, { step = (work) => work(), between = null } = {}) {
  const t0 = performance.now();
  let chosen;
  try {
    if (!between) chosen = await step(() => net.autotune());
    else {
      while ((chosen = await step(() => net.autotuneStep())) == null) await between();
    }
  } catch (e) {
    console.info('kernel tuning stopped:', e.message);
    return null;
  }
  localStorage.setItem(keyOf(engine, net), chosen);
  return { tiles: tileCounts(chosen), tuneMs: performance.now() - t0 };
}
