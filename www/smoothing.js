// Steadier labels on the camera: each class's probability as an exponential moving average
// over recent frames, so that the top-5 does not flicker between near-equal classes from
// frame to frame. Never for single images (their result is shown as it is).

// The average's time constant: a class that appears takes about this long to reach 63% of
// its probability. Time-based, not per frame, so a slow device (1 frame/s on SwiftShader)
// and a fast one (60 frames/s) settle alike.
const TIME_CONSTANT_MS = 400;
// Classes averaged below this are forgotten (a class out of a frame's top-5 counts as 0 there).
const FORGET_BELOW = 1e-3;

export class Smoother {
  #averages = new Map(); // class index -> { label, p }
  #at = null; // performance.now() of the last frame

  /** Starts again (another model, another source). */
  reset() {
    this.#averages.clear();
    this.#at = null;
  }

  /**
   * Folds a frame's top-5 ([{index, label, probability, cam?}]) in at time `now`; returns
   * the averaged top-5 in the same shape (a class's `cam` is this frame's, where it has one).
   */
  add(top, now) {
    const weight = this.#at == null ? 1 : 1 - Math.exp(-(now - this.#at) / TIME_CONSTANT_MS);
    this.#at = now;
    const seen = new Map(top.map((t) => [t.index, t]));
    for (const [index, a] of this.#averages) {
      if (!seen.has(index)) a.p *= 1 - weight;
      if (a.p < FORGET_BELOW) this.#averages.delete(index);
    }
    for (const t of top) {
      const a = this.#averages.get(t.index);
      if (a) a.p += weight * (t.probability - a.p);
      else this.#averages.set(t.index, { label: t.label, p: weight * t.probability });
    }
    return [...this.#averages.entries()]
      .sort((x, y) => y[1].p - x[1].p)
      .slice(0, top.length)
      .map(([index, a]) => ({ index, label: a.label, probability: a.p, cam: seen.get(index)?.cam }));
  }
}
