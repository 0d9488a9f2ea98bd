// `iomux echo --embedded`: Node's own event loop drives the echo server's Loop (Loop.attach())
// instead of run(), as it would inside an ordinary Node program. Everything else is the same
// server: the graceful shutdown ends it with loop.stop(), which detaches.
import type { Loop } from '../loop.js';

/**
 * Attaches `loop` and resolves once `stopped` resolves (the shutdown's stop() detaches the loop).
 * Rejects if Node's event loop runs dry while the loop is still unfinished: it failed and
 * detached itself (its exception handler has logged why).
 */
export function serveAttached(loop: Loop, stopped: Promise<void>): Promise<void> {
  loop.attach();
  return new Promise((resolve, reject) => {
    const ranDry = (): void => reject(new Error("the loop detached itself from Node's event loop"));
    process.once('beforeExit', ranDry);
    void stopped.then(() => {
      process.off('beforeExit', ranDry);
      resolve();
    });
  });
}
