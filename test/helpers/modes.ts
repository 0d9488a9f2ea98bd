// The ways a test body can drive a Loop: run() owning the thread on select, poll and epoll, and
// the Node-embedded mode (attach()) on epoll. inMode() runs one async body under each, bounded in
// time either way: owned loops poll a DeadlineSelector, attached ones race a Node timer. The
// loop is closed by the shared cleanup() (resources.ts).
import { Loop } from '../../src/loop.js';
import type { BackendName } from '../../src/selectors.js';
import { backends, openLoop } from '../loop/helpers.js';
import { hold } from './resources.js';

export interface Mode {
  readonly name: string;
  readonly backend: BackendName;
  readonly attached: boolean;
}

export const modes: Mode[] = [
  ...backends.filter((b) => b !== 'kqueue').map((backend) => ({ name: `${backend} owned`, backend, attached: false })),
  ...(backends.includes('epoll') ? [{ name: 'epoll attached', backend: 'epoll' as const, attached: true }] : []),
];

/**
 * Runs `body` with a fresh loop in `mode` and returns what it returns. Owned: run() drives it
 * (runUntilComplete). Attached: Node drives it. Either way it fails after `budgetMs`.
 */
export async function inMode<T>(mode: Mode, body: (loop: Loop) => Promise<T>, budgetMs = 5000): Promise<T> {
  if (!mode.attached) {
    const loop = openLoop(mode.backend, budgetMs);
    return loop.runUntilComplete(body(loop));
  }
  const loop = new Loop({ backend: mode.backend });
  hold(() => loop.close());
  loop.attach();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('test deadline exceeded: the attached loop was still waiting')),
      budgetMs,
    );
  });
  try {
    return await Promise.race([body(loop), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
