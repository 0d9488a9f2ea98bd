// Close hooks (DESIGN §6.1): a file object that can run code just before its fd is closed lets
// a selector or a loop that watches it unregister first, so a closed Socket never leaves its fd
// number registered (where the next fd with that number would collide with it, or on epoll
// silently get no events). FdOwners is the one bookkeeping both of them use.

/**
 * A hook that runs just before a file object's fd is closed, while the fd is still valid. The
 * layers above (aio.ts, transports.ts) use it to unregister the fd and reject waiters; the socket
 * itself stays ignorant of them.
 * @internal
 */
export const kBeforeClose: unique symbol = Symbol('iomux.beforeClose');

/** A set of hooks that Socket.close() runs while the fd is still open. Lazily made. */
export const kCloseHooks: unique symbol = Symbol('iomux.closeHooks');

/** A file object that runs close hooks: Socket (and anything else that adopts the symbol). */
export interface Closable {
  [kCloseHooks]: Set<() => void> | null;
}

/** A file object with both kinds of hook: Socket and PipeEnd. */
export interface HookedFile extends Closable {
  [kBeforeClose]: (() => void) | null;
}

/**
 * The close sequence every fd-owning object shares: its before-close hook (one layer's), then the
 * close hooks (selectors' and loops'), then `release`, which closes the fd. `release` runs even if
 * a hook threw (say its loop was closed), so the fd is never leaked; the hook's error is rethrown.
 */
export function closeWithHooks(obj: HookedFile, release: () => void): void {
  const hook = obj[kBeforeClose];
  obj[kBeforeClose] = null;
  try {
    try {
      if (hook !== null) hook();
    } finally {
      runCloseHooks(obj);
    }
  } finally {
    release();
  }
}

function isClosable(obj: unknown): obj is Closable {
  return typeof obj === 'object' && obj !== null && kCloseHooks in obj;
}

/**
 * Runs every hook, each once, and forgets them. A hook that throws does not stop the others;
 * the first error is rethrown once all have run.
 */
export function runCloseHooks(obj: Closable): void {
  const hooks = obj[kCloseHooks];
  if (hooks === null || hooks.size === 0) return;
  obj[kCloseHooks] = null;
  let failure: { err: unknown } | null = null;
  for (const hook of hooks) {
    try {
      hook();
    } catch (err) {
      failure ??= { err };
    }
  }
  if (failure !== null) throw failure.err;
}

/**
 * Which object owns each watched fd number, for the objects (not plain numbers) handed to a
 * selector or loop: closing the object calls `onClose(fd)` first, and an object whose fileno()
 * no longer answers (closed) can still be found by identity, as Python's selectors do.
 */
export class FdOwners {
  readonly #byFd = new Map<number, { obj: object; hook: (() => void) | null }>();
  readonly #onClose: (fd: number) => void;

  constructor(onClose: (fd: number) => void) {
    this.#onClose = onClose;
  }

  /** Records that `fileobj` owns `fd`; plain numbers have no owner. The last owner named wins. */
  track(fileobj: unknown, fd: number): void {
    if (typeof fileobj !== 'object' || fileobj === null) return;
    const cur = this.#byFd.get(fd);
    if (cur !== undefined) {
      if (cur.obj === fileobj) return;
      this.untrack(fd);
    }
    let hook: (() => void) | null = null;
    if (isClosable(fileobj)) {
      const onClose = this.#onClose;
      hook = () => {
        this.#byFd.delete(fd);
        onClose(fd);
      };
      (fileobj[kCloseHooks] ??= new Set()).add(hook);
    }
    this.#byFd.set(fd, { obj: fileobj, hook });
  }

  /** Forgets the owner of `fd` (its registration ended), removing its close hook. */
  untrack(fd: number): void {
    if (this.#byFd.size === 0) return;
    const cur = this.#byFd.get(fd);
    if (cur === undefined) return;
    this.#byFd.delete(fd);
    if (cur.hook !== null) (cur.obj as Closable)[kCloseHooks]?.delete(cur.hook);
  }

  /** The fd `obj` was tracked under, or -1. Linear: only for objects whose fileno() failed. */
  find(obj: unknown): number {
    for (const [fd, cur] of this.#byFd) if (cur.obj === obj) return fd;
    return -1;
  }

  /** Forgets every owner (the selector or loop closed). */
  clear(): void {
    for (const fd of this.#byFd.keys()) this.untrack(fd);
  }
}
