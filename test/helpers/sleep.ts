import type { Loop } from '../../src/loop.js';

/**
 * Resolves after `ms`. Given a loop, the wait is a loop timer (callLater): Node's own timers cannot
 * fire while the loop waits in its selector. Without one it is a Node timer, for code that runs on
 * Node's loop (CLI processes, Node clients).
 */
export function sleep(ms: number, loop?: Loop): Promise<void> {
  return new Promise((resolve) => {
    if (loop === undefined) setTimeout(resolve, ms);
    else loop.callLater(ms, resolve);
  });
}
