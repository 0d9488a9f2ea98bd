// The fuzzer's leak check: which fds a case left open, or closed that it never opened.
import { readdirSync, readlinkSync } from 'node:fs';

/** Open fds and what each refers to ('socket:[123]', 'pipe:[45]', 'anon_inode:[eventpoll]'...). */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      out.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // Gone already: the directory's own fd, or a short-lived one of another thread.
    }
  }
  return out;
}

/**
 * The fds a case left open or closed behind the world's back, of the kinds a world opens
 * (sockets, pipes, epoll and event fds). Node may open others on its own, and lazily: a tty
 * it reopens the first time process.stderr is touched, a file a helper thread reads. Those are
 * not the world's, so they are not a leak.
 */
export function fdChanges(before: Map<number, string>, after: Map<number, string>): string[] {
  const ours = (target: string | undefined) => target !== undefined && /^(socket|pipe|anon_inode):/.test(target);
  const changes: string[] = [];
  for (const [fd, target] of after) {
    if (before.get(fd) !== target && ours(target)) changes.push(`fd ${fd} (${target}) left open`);
  }
  for (const [fd, target] of before) {
    if (!after.has(fd) && ours(target)) changes.push(`fd ${fd} (${target}) closed, but the world never opened it`);
  }
  return changes;
}
