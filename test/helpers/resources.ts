// The one place that knows what a test still holds open. Every helper that makes something a
// test must give back (an fd, a selector, a loop, a socket, a server, a Unix path, a child process)
// registers how to release it here, and cleanup() — run in afterEach — releases everything,
// newest first, so a socket goes before the loop it was registered on and a server before the
// loop that runs it. A failing test therefore leaks nothing into the next one.
import { readdirSync } from 'node:fs';

type Release = () => void | Promise<void>;

// A Set keeps insertion order; cleanup() walks it backwards.
const held = new Set<Release>();

/**
 * Registers `release` for the next cleanup(). Returns a function that forgets it again, for a
 * resource the test gives back itself (an fd closed by hand must not be closed twice: its number
 * may belong to something else by then).
 */
export function hold(release: Release): () => void {
  held.add(release);
  return () => {
    held.delete(release);
  };
}

/**
 * Releases everything held, newest first. Every release runs even if some throw; the first error
 * is thrown (rejected) at the end. Synchronous releases have all run by the time this returns, so
 * `await` is only needed for the async ones (child processes to be reaped).
 */
export function cleanup(): Promise<void> {
  const all = [...held].reverse();
  held.clear();
  const errors: unknown[] = [];
  const pending: Array<Promise<void>> = [];
  for (const release of all) {
    try {
      const r = release();
      if (r !== undefined) pending.push(r.catch((err: unknown) => void errors.push(err)));
    } catch (err) {
      errors.push(err);
    }
  }
  return Promise.all(pending).then(() => {
    if (errors.length > 0) throw errors[0];
  });
}

/** How many fds this process has open (entries of /proc/self/fd, less the one reading it). */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length - 1;
}
