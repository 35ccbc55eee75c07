// The page's one queue for the classifier. Camera frames are taken one after another (on
// the GPU the next may be submitted while the previous is still read back); exclusive work
// (loading a model, rebuilding after a lost device, measuring and tuning a backend,
// turning activation maps on, the explorer's readings, memory samples) runs in the order
// it was asked for, each once no frame is under way, and holds the camera from the moment
// it is asked for until it is done.

export class Turns {
  #held = 0; // exclusive work asked for and not yet done
  #last = Promise.resolve(); // the last exclusive work asked for, which the next one waits for
  #frame = null; // the camera frame being taken (upload, submit, and the wait below), or null
  #inflight = null; // the last frame's result on its way to the screen
  #released;

  /** `released()` is called when the last exclusive work is done: the camera may go on. */
  constructor(released) {
    this.#released = released;
  }

  /** Whether a camera frame may be taken now. */
  get free() {
    return this.#held === 0 && this.#frame === null;
  }

  /**
   * Takes a camera frame: `take()` hands it to the classifier and returns [the promise of
   * its result shown] (in an array: a promise itself would be waited for). The turn ends
   * once that result is shown or, `pipelined`, once the previous frame's is (two frames in
   * flight). Rejects as the frame (or, pipelined, the previous one) fails.
   */
  async frame(take, pipelined) {
    const previous = this.#inflight;
    this.#frame = (async () => {
      const [shown] = await take();
      this.#inflight = shown;
      await (pipelined ? previous : shown);
    })();
    try {
      await this.#frame;
    } finally {
      this.#frame = null;
    }
  }

  /** Runs `work` after the exclusive work asked for before it, with no frame in flight. */
  exclusive(work) {
    this.#held += 1;
    const run = this.#last
      .then(async () => {
        await this.#frame?.catch(() => {});
        await this.#inflight?.catch(() => {});
        this.#inflight = null;
        return work();
      })
      .finally(() => {
        this.#held -= 1;
        if (this.#held === 0) this.#released();
      });
    this.#last = run.catch(() => {});
    return run;
  }
}
