// Loop.run() and runUntilComplete(): iterations driven from Node macrotasks while run() owns the
// thread. Each slice runs iterations back to back; between two iterations that ran callbacks the
// promise jobs and nextTicks they caused are drained (microtask-drain.ts), in place when Node
// allows it, else by ending the slice and going on in a setImmediate.
import { iomuxError } from './errors.js';
import { drainMicrotasks, probeDrain } from './microtask-drain.js';

/** What the runner needs from its Loop. */
export interface RunHost {
  /** Milliseconds the next iteration may wait: 0, a positive delay, null (forever), or negative (nothing left). */
  timeout(): number | null;
  /** Runs one iteration; returns true if it ran any callback. */
  runOnce(timeout: number | null): boolean;
  /** run() is about to return (or reject): no iteration follows until the next run(). */
  ended(): void;
}

/** Runs a Loop's iterations until stop() or until nothing is left. */
export class Runner {
  readonly #host: RunHost;
  #running = false;
  #stopping = false;
  #ranSinceDrain = false;
  #resolve: (() => void) | null = null;
  #reject: ((err: unknown) => void) | null = null;
  /** Why the last run() ended: runUntilComplete() tells a stop() from an empty loop. */
  #lastEnd: 'stopped' | 'nothing-left' = 'nothing-left';

  constructor(host: RunHost) {
    this.#host = host;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Loop.run() once the loop checked it may run. */
  run(): Promise<void> {
    this.#running = true;
    this.#stopping = false;
    this.#ranSinceDrain = false;
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      // Start from a macrotask: the caller's pending microtasks run first (they may add work),
      // and the in-place drain only works outside a microtask.
      setImmediate(this.#slice);
    });
  }

  /** Makes run() return after the current iteration; nothing when not running. */
  stop(): void {
    if (this.#running) this.#stopping = true;
  }

  /** Loop.runUntilComplete() once the loop checked it may run. */
  async runUntilComplete<T>(p: Promise<T> | T): Promise<T> {
    const outcome: { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
    let active = true;
    const settled = () => {
      if (active) this.stop();
    };
    Promise.resolve(p).then(
      (value) => {
        outcome.state = 'fulfilled';
        outcome.value = value;
        settled();
      },
      (error: unknown) => {
        outcome.state = 'rejected';
        outcome.error = error;
        settled();
      },
    );
    try {
      await this.run();
    } finally {
      active = false;
    }
    if (outcome.state === 'fulfilled') return outcome.value as T;
    if (outcome.state === 'rejected') throw outcome.error;
    if (this.#lastEnd === 'stopped') {
      throw iomuxError(
        'ERR_LOOP_STOPPED',
        'The loop was stopped before the promise passed to runUntilComplete() settled',
      );
    }
    throw iomuxError(
      'ERR_LOOP_STALLED',
      'The promise passed to runUntilComplete() is still pending, but the loop has nothing left to wait for ' +
        '(no readers, writers, timers or callbacks) that could settle it',
    );
  }

  /**
   * One macrotask's worth of iterations. With the in-place drain, a run() is a single slice;
   * in 'immediate' mode the slice ends (and a setImmediate continues) whenever callbacks ran.
   */
  readonly #slice = (): void => {
    probeDrain();
    for (;;) {
      if (this.#ranSinceDrain) {
        this.#ranSinceDrain = false;
        let drained: boolean;
        try {
          drained = drainMicrotasks();
        } catch (err) {
          // A nextTick callback threw: let Node treat it as it would have (uncaughtException),
          // and go on in a new macrotask if the process survives it.
          setImmediate(this.#slice);
          throw err;
        }
        if (!drained) {
          setImmediate(this.#slice);
          return;
        }
      }
      let more: boolean;
      try {
        more = this.#step();
      } catch (err) {
        this.#end(err);
        return;
      }
      if (!more) {
        this.#end(undefined);
        return;
      }
    }
  };

  /** Runs one iteration unless stopped or idle; returns false when run() should return. */
  #step(): boolean {
    if (this.#stopping) {
      this.#lastEnd = 'stopped';
      return false;
    }
    const timeout = this.#host.timeout();
    if (timeout !== null && timeout < 0) {
      this.#lastEnd = 'nothing-left';
      return false;
    }
    if (this.#host.runOnce(timeout)) this.#ranSinceDrain = true;
    return true;
  }

  #end(err: unknown): void {
    const resolve = this.#resolve!;
    const reject = this.#reject!;
    this.#resolve = this.#reject = null;
    this.#running = false;
    this.#stopping = false;
    try {
      this.#host.ended();
    } catch (endErr) {
      err ??= endErr;
    }
    if (err === undefined) resolve();
    else reject(err);
  }
}
