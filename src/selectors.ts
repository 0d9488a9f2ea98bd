// Python's `selectors` for Node: one BaseSelector holds every check, the fd -> key map and the
// error mapping; each backend class only names its kernel mechanism. The contract every backend
// keeps is the TSDoc on BaseSelector (the native side states it in native/selector.h).
import { inspect, type InspectOptionsStylized } from 'node:util';
import { native, BACKEND_IDS, type NativeSelectorHandle } from './native.js';
import { describeMap, describeObject } from './inspect.js';
import { errnoError, iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { FdOwners } from './close-hooks.js';
import { BatchIo } from './batch-io.js';

/** Event bit: the fd is readable (data, EOF, a pending connection, an error or a hang-up). */
export const EVENT_READ = 1;
/** Event bit: the fd is writable (room in the send buffer, an error or a hang-up). */
export const EVENT_WRITE = 2;

/** What a selector watches: a file descriptor, or an object whose fileno() returns one. */
export type FileLike =
  | number
  | {
      /** The file descriptor to watch. */
      fileno(): number;
    };
/** The kernel mechanism behind a selector. */
export type BackendName = 'select' | 'poll' | 'epoll' | 'kqueue';

/** One registration, as register() returns it and select() reports it. Frozen. */
export interface SelectorKey<T = unknown> {
  /** The object given to register(). */
  readonly fileobj: FileLike;
  /** Its file descriptor. */
  readonly fd: number;
  /** The watched events: EVENT_READ, EVENT_WRITE or both. */
  readonly events: number;
  /** The caller's data given to register() or modify(). */
  readonly data: T;
}

// 1024 (fd, mask) pairs per wait, as libuv's epoll batch. More ready fds are reported by the next
// waits (see native/selector.h), so this bounds memory, not correctness.
const RESULT_CAPACITY = 1024;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Per-backend facts the base class needs to name syscalls and enforce limits. */
interface BackendTraits {
  readonly name: BackendName;
  readonly ctlSyscall: string;
  readonly waitSyscall: string;
  /** Highest fd + 1 the backend accepts (select: FD_SETSIZE), or Infinity. */
  readonly fdLimit: number;
}

const TRAITS: Record<BackendName, BackendTraits> = {
  select: { name: 'select', ctlSyscall: 'select', waitSyscall: 'select', fdLimit: native.FD_SETSIZE },
  poll: { name: 'poll', ctlSyscall: 'poll', waitSyscall: 'poll', fdLimit: Infinity },
  epoll: { name: 'epoll', ctlSyscall: 'epoll_ctl', waitSyscall: 'epoll_wait', fdLimit: Infinity },
  kqueue: { name: 'kqueue', ctlSyscall: 'kevent', waitSyscall: 'kevent', fdLimit: Infinity },
};

/** native remove(): the kernel object was replaced (epoll's dup pitfall, native/selector.h). */
const REMOVE_REPLACED_BACKEND = 1;

/** Reads the fd out of a FileLike, refusing anything that is not a non-negative integer. */
export function fdOf(fileobj: FileLike, name = 'fileobj'): number {
  let fd: unknown = fileobj;
  if (typeof fileobj === 'object' && fileobj !== null && typeof fileobj.fileno === 'function') {
    fd = fileobj.fileno();
  } else if (typeof fileobj !== 'number') {
    throw invalidArgType(name, 'a file descriptor (integer) or an object with fileno()', fileobj);
  }
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > MAX_TIMEOUT_MS) {
    throw invalidArgValue(name, 'a non-negative integer file descriptor', fd);
  }
  return fd;
}

/**
 * fdOf() for lookups: null instead of an error when `fileobj` is an object whose fileno() throws
 * or returns a negative number (it was closed), so the caller can look it up by identity.
 */
export function fdOrNull(fileobj: FileLike, name = 'fileobj'): number | null {
  if (typeof fileobj === 'object' && fileobj !== null && typeof fileobj.fileno === 'function') {
    let fd: unknown;
    try {
      fd = fileobj.fileno();
    } catch {
      return null;
    }
    if (typeof fd === 'number' && Number.isInteger(fd) && fd < 0) return null;
  }
  return fdOf(fileobj, name);
}

function checkEvents(events: unknown): number {
  if (typeof events !== 'number') throw invalidArgType('events', 'a number (EVENT_READ | EVENT_WRITE)', events);
  if (!Number.isInteger(events) || events <= 0 || (events & ~(EVENT_READ | EVENT_WRITE)) !== 0) {
    throw invalidArgValue('events', 'a non-zero combination of EVENT_READ (1) and EVENT_WRITE (2)', events);
  }
  return events;
}

/** Turns a public timeout into the native one: -1 forever, 0 poll, else whole ms (rounded up). */
export function toNativeTimeout(timeoutMs: number | null | undefined): number {
  if (timeoutMs === undefined || timeoutMs === null) return -1;
  if (typeof timeoutMs !== 'number') throw invalidArgType('timeoutMs', 'a number, null or undefined', timeoutMs);
  if (Number.isNaN(timeoutMs)) throw invalidArgValue('timeoutMs', 'a number of milliseconds', timeoutMs);
  if (timeoutMs <= 0) return 0;
  if (timeoutMs === Infinity) return -1;
  return Math.min(Math.ceil(timeoutMs), MAX_TIMEOUT_MS);
}

/** A live, read-only view of the fd -> key map (Python's `_SelectorMapping`). */
class KeyMapView<T> implements ReadonlyMap<number, SelectorKey<T>> {
  readonly #map: Map<number, SelectorKey<T>>;
  constructor(map: Map<number, SelectorKey<T>>) {
    this.#map = map;
  }
  get size(): number {
    return this.#map.size;
  }
  get(fd: number): SelectorKey<T> | undefined {
    return this.#map.get(fd);
  }
  has(fd: number): boolean {
    return this.#map.has(fd);
  }
  forEach(
    cb: (key: SelectorKey<T>, fd: number, map: ReadonlyMap<number, SelectorKey<T>>) => void,
    thisArg?: unknown,
  ): void {
    for (const [fd, key] of this.#map) cb.call(thisArg, key, fd, this);
  }
  entries(): MapIterator<[number, SelectorKey<T>]> {
    return this.#map.entries();
  }
  keys(): MapIterator<number> {
    return this.#map.keys();
  }
  values(): MapIterator<SelectorKey<T>> {
    return this.#map.values();
  }
  [Symbol.iterator](): MapIterator<[number, SelectorKey<T>]> {
    return this.#map.entries();
  }
  /** `SelectorKeyMap(1) { 5 => { fileobj: 5, fd: 5, events: 1, data: undefined } }` */
  [inspect.custom](depth: number, options: InspectOptionsStylized): string {
    return describeMap('SelectorKeyMap', this.#map, depth, options);
  }
}

/**
 * Watches file descriptors for readiness, after Python's `selectors.BaseSelector`. This class does
 * the argument checks, keeps the fd -> key map and builds the errors; each subclass only names its
 * kernel mechanism. Every backend keeps the same contract:
 *
 * **Readiness.** Level-triggered: an fd is reported on every select() until it is drained.
 * select() reports at most one entry per fd, READ and WRITE merged, and only bits that were asked
 * for. Readable data, EOF, a pending connection, an error or a hang-up give EVENT_READ; writable
 * space, an error or a hang-up give EVENT_WRITE. select(2) has no hang-up bit, so a pipe whose
 * writer went away shows READ only on SelectSelector.
 *
 * **Timeouts** are milliseconds: undefined or null wait forever, `<= 0` polls, fractions round up
 * (a wait is never shorter than asked), values past 2**31-1 saturate, Infinity waits forever,
 * NaN and non-numbers are refused. A signal neither raises nor shortens a wait.
 *
 * **Closed fds.** A registered fd closed behind the selector's back never makes select() throw or
 * hang: select and poll report it with its asked bits, epoll and kqueue drop it. unregister() of
 * it then succeeds (the native layer owns that rule, see native/selector.h), and finds the key by
 * the object itself when its fileno() throws or returns -1, as Python does. A Socket registered
 * here and closed without unregister() is unregistered by its own close (DESIGN §6.1), so its fd
 * number is free for the next fd. Still: unregister before you close.
 *
 * **Failures are atomic**: a register() or modify() the kernel refuses leaves the map as it was.
 *
 * @typeParam T - the type of the data attached to each registration.
 */
export abstract class BaseSelector<T = unknown> {
  /** The kernel mechanism this selector uses. */
  readonly backend: BackendName;
  /**
   * The last wait's results as (fd, mask) pairs: entries [2i] and [2i+1] for i < the count that
   * selectRaw() returned. Reused by every wait; read it before the next one. The loop's fast path.
   */
  readonly ready: Int32Array = new Int32Array(RESULT_CAPACITY * 2);
  readonly #traits: BackendTraits;
  readonly #keys = new Map<number, SelectorKey<T>>();
  readonly #view = new KeyMapView(this.#keys);
  readonly #owners = new FdOwners((fd) => this.#unregisterOnClose(fd));
  /** Keys a Socket's close unregistered, so a later unregister(sock) still returns its key once. */
  #closedKeys = new WeakMap<object, SelectorKey<T>>();
  #native: NativeSelectorHandle | null;
  #batch: BatchIo | null = null;
  /**
   * Called when the kernel object behind backendFd() was replaced (epoll's dup pitfall, DESIGN
   * §6.1; same fd number, new file): whoever polls that fd (an attached Loop) must watch it anew.
   * @internal
   */
  onBackendFdChange: (() => void) | null = null;

  protected constructor(backend: BackendName) {
    this.#traits = TRAITS[backend];
    this.backend = backend;
    if (!native.backends.includes(backend)) {
      throw iomuxError(
        'ERR_BACKEND_UNAVAILABLE',
        `The ${backend} backend is not available on ${process.platform} (available: ${native.backends.join(', ')})`,
      );
    }
    const handle = new native.NativeSelector(this.ready);
    const rc = handle.open(BACKEND_IDS[backend]);
    if (rc < 0) throw errnoError(rc, backend === 'epoll' ? 'epoll_create1' : backend);
    this.#native = handle;
  }

  /**
   * Starts watching `fileobj` for `events`.
   * @throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for a bad fd or events,
   *   ERR_FD_OUT_OF_RANGE (select, fd >= FD_SETSIZE), ERR_FD_ALREADY_REGISTERED,
   *   ERR_SELECTOR_CLOSED, or a system error such as EBADF for an fd that is not open.
   */
  register(fileobj: FileLike, events: number, data?: T): SelectorKey<T> {
    const handle = this.#open();
    const fd = fdOf(fileobj);
    checkEvents(events);
    if (this.#keys.has(fd)) {
      throw iomuxError('ERR_FD_ALREADY_REGISTERED', `File descriptor ${fd} is already registered`);
    }
    if (fd >= this.#traits.fdLimit) {
      throw iomuxError(
        'ERR_FD_OUT_OF_RANGE',
        `File descriptor ${fd} is out of range for ${this.backend}: it must be below FD_SETSIZE (${this.#traits.fdLimit})`,
        RangeError,
      );
    }
    const rc = handle.add(fd, events);
    if (rc < 0) throw errnoError(rc, this.#traits.ctlSyscall);
    const key: SelectorKey<T> = Object.freeze({ fileobj, fd, events, data: data as T });
    this.#keys.set(fd, key);
    this.#owners.track(fileobj, fd);
    return key;
  }

  /**
   * Stops watching `fileobj`. Succeeds for an fd that was closed while registered; a file object
   * whose fileno() fails once closed is found by identity. A Socket closed while registered was
   * already unregistered by its close: this returns that key, once.
   * @throws ERR_FD_NOT_REGISTERED, ERR_SELECTOR_CLOSED
   */
  unregister(fileobj: FileLike): SelectorKey<T> {
    this.#open();
    const fd = fdOrNull(fileobj);
    if (fd === null && typeof fileobj === 'object') {
      const closed = this.#closedKeys.get(fileobj);
      if (closed !== undefined) {
        this.#closedKeys.delete(fileobj);
        return closed;
      }
    }
    const key = this.#lookup(fileobj, fd);
    this.#remove(key);
    return key;
  }

  /**
   * Changes the events and data of a registration. Without `data`, data becomes undefined (as in
   * Python). A change of data alone makes no syscall; a failed change leaves the old key in place.
   * @throws ERR_FD_NOT_REGISTERED, ERR_INVALID_ARG_VALUE, ERR_SELECTOR_CLOSED, or a system error
   */
  modify(fileobj: FileLike, events: number, data?: T): SelectorKey<T> {
    const handle = this.#open();
    const old = this.#lookup(fileobj, fdOrNull(fileobj));
    checkEvents(events);
    if (events !== old.events) {
      const rc = handle.modify(old.fd, events);
      if (rc < 0) throw errnoError(rc, this.#traits.ctlSyscall);
    }
    const key: SelectorKey<T> = Object.freeze({ fileobj, fd: old.fd, events, data: data as T });
    this.#keys.set(old.fd, key);
    this.#owners.track(fileobj, old.fd);
    return key;
  }

  /**
   * Waits for readiness and returns `[key, events]` pairs, one per ready fd.
   * @param timeoutMs undefined/null: forever; <= 0: poll; else at least this many ms.
   * @throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for a bad timeout, ERR_SELECTOR_CLOSED,
   *   or a system error from the wait syscall
   */
  select(timeoutMs?: number | null): Array<[SelectorKey<T>, number]> {
    const count = this.selectRaw(timeoutMs);
    const out: Array<[SelectorKey<T>, number]> = [];
    const ready = this.ready;
    // The backend wrote count (fd, mask) pairs into ready: every index below is in range.
    for (let i = 0; i < count; i++) {
      const key = this.#keys.get(ready[2 * i]!);
      if (key !== undefined) out.push([key, ready[2 * i + 1]!]);
    }
    return out;
  }

  /**
   * The allocation-free form of select(): waits, leaves (fd, mask) pairs in `this.ready` and
   * returns their count. The event loop uses this.
   * @throws as select()
   */
  selectRaw(timeoutMs?: number | null): number {
    const handle = this.#open();
    const count = handle.wait(toNativeTimeout(timeoutMs));
    if (count < 0) throw errnoError(count, this.#traits.waitSyscall);
    return count;
  }

  /**
   * The registration of `fileobj`.
   * @throws ERR_FD_NOT_REGISTERED, ERR_SELECTOR_CLOSED
   */
  getKey(fileobj: FileLike): SelectorKey<T> {
    this.#open();
    return this.#lookup(fileobj, fdOrNull(fileobj));
  }

  /**
   * A live read-only view of the registrations, keyed by fd.
   * @throws ERR_SELECTOR_CLOSED
   */
  getMap(): ReadonlyMap<number, SelectorKey<T>> {
    this.#open();
    return this.#view;
  }

  /** True once close() has run. */
  get closed(): boolean {
    return this.#native === null;
  }

  /** Releases the kernel object. Closing twice does nothing. */
  close(): void {
    if (this.#native === null) return;
    this.#native.close();
    this.#native = null;
    this.#keys.clear();
    this.#owners.clear();
    this.#closedKeys = new WeakMap();
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * @internal The batched path over this selector (batch-io.ts), made on first use; one per
   * selector, as the native side keeps one.
   * @throws ERR_SELECTOR_CLOSED
   */
  _batchIo(): BatchIo {
    const handle = this.#open();
    this.#batch ??= new BatchIo(handle, RESULT_CAPACITY, this.#traits.waitSyscall);
    return this.#batch;
  }

  /**
   * @internal The loop's wait on the batched path: what selectRaw() is to the unbatched one
   * (a subclass that wraps one wraps both). Records land in `_batchIo().records`.
   * @throws as select()
   */
  _cycle(timeoutMs?: number | null): number {
    return this._batchIo().cycle(toNativeTimeout(timeoutMs));
  }

  /** @internal The native selector, for the Node-embedded mode's watches (embedded.ts). */
  _nativeHandle(): NativeSelectorHandle {
    return this.#open();
  }

  /** `EpollSelector { backend: 'epoll', closed: false, registered: 2 }` */
  [inspect.custom](depth: number, options: InspectOptionsStylized): string {
    const fields = { backend: this.backend, closed: this.closed, registered: this.#keys.size };
    return describeObject(this.constructor.name, fields, depth, options);
  }

  /** The kernel object's fd for epoll/kqueue (pollable itself); -1 for select/poll. */
  protected backendFd(): number {
    return this.#open().backendFd();
  }

  #open(): NativeSelectorHandle {
    if (this.#native === null) throw iomuxError('ERR_SELECTOR_CLOSED', `The ${this.backend} selector is closed`);
    return this.#native;
  }

  /** The key of `fileobj`, by its fd, or by identity when fileno() failed (`fd` is null). */
  #lookup(fileobj: FileLike, fd: number | null): SelectorKey<T> {
    if (fd !== null) {
      const key = this.#keys.get(fd);
      if (key === undefined) throw iomuxError('ERR_FD_NOT_REGISTERED', `File descriptor ${fd} is not registered`);
      return key;
    }
    for (const key of this.#keys.values()) if (key.fileobj === fileobj) return key;
    throw iomuxError(
      'ERR_FD_NOT_REGISTERED',
      'The file object is not registered (and its fileno() fails: it is closed)',
    );
  }

  #remove(key: SelectorKey<T>): void {
    const rc = this.#open().remove(key.fd);
    this.#keys.delete(key.fd);
    this.#owners.untrack(key.fd);
    if (rc < 0) throw errnoError(rc, this.#traits.ctlSyscall);
    if (rc === REMOVE_REPLACED_BACKEND) this.onBackendFdChange?.();
  }

  /** A registered Socket is closing (its fd is still open): unregister it now. */
  #unregisterOnClose(fd: number): void {
    const key = this.#keys.get(fd);
    if (this.#native === null || key === undefined) return;
    this.#remove(key);
    if (typeof key.fileobj === 'object') this.#closedKeys.set(key.fileobj, key);
  }
}

/**
 * select(2): copies every watched fd each call; fds must be below FD_SETSIZE.
 * @throws a system error if the backend cannot be opened
 */
export class SelectSelector<T = unknown> extends BaseSelector<T> {
  constructor() {
    super('select');
  }
}

/**
 * poll(2): no fd limit, but the kernel still scans every registered fd on each call.
 * @throws a system error if the backend cannot be opened
 */
export class PollSelector<T = unknown> extends BaseSelector<T> {
  constructor() {
    super('poll');
  }
}

/**
 * epoll(7), Linux: returns only the ready fds.
 * @throws ERR_BACKEND_UNAVAILABLE off Linux, or a system error from epoll_create1 (EMFILE ...)
 */
export class EpollSelector<T = unknown> extends BaseSelector<T> {
  constructor() {
    super('epoll');
  }
  /** The epoll instance's own fd: readable when any registered fd is ready. */
  fileno(): number {
    return this.backendFd();
  }
}

/**
 * kqueue(2), macOS and the BSDs. Untested by this project's CI (it runs on Linux).
 * @throws ERR_BACKEND_UNAVAILABLE where kqueue is not built, or a system error from kqueue()
 */
export class KqueueSelector<T = unknown> extends BaseSelector<T> {
  constructor() {
    super('kqueue');
  }
  /** The kqueue's own fd: readable when any registered fd is ready. */
  fileno(): number {
    return this.backendFd();
  }
}

const CLASSES = { select: SelectSelector, poll: PollSelector, epoll: EpollSelector, kqueue: KqueueSelector } as const;

/** The backends this build and platform offer, worst first: e.g. ['select', 'poll', 'epoll']. */
export function availableBackends(): BackendName[] {
  return native.backends.filter((b): b is BackendName => b in CLASSES);
}

/** The platform's best backend: epoll on Linux, kqueue on macOS/BSD, else poll. */
export function bestBackend(): BackendName {
  const have = availableBackends();
  if (have.includes('epoll')) return 'epoll';
  if (have.includes('kqueue')) return 'kqueue';
  return 'poll';
}

/** epoll on Linux, kqueue on macOS/BSD, else poll (Python's `selectors.DefaultSelector`). */
export const DefaultSelector: typeof EpollSelector | typeof KqueueSelector | typeof PollSelector =
  CLASSES[bestBackend()];
export type DefaultSelector<T = unknown> = BaseSelector<T>;

/**
 * A selector by backend name; without one, the platform's best.
 * @throws ERR_INVALID_ARG_VALUE for an unknown name, ERR_BACKEND_UNAVAILABLE for one not built here
 */
export function createSelector<T = unknown>(backend?: string): BaseSelector<T> {
  if (backend === undefined) return new DefaultSelector<T>();
  if (typeof backend !== 'string') throw invalidArgType('backend', 'a string', backend);
  if (!Object.hasOwn(CLASSES, backend)) {
    throw invalidArgValue('backend', `one of ${Object.keys(CLASSES).join(', ')}`, backend);
  }
  return new CLASSES[backend as BackendName]<T>();
}
