// The typed shape of every export of the C++ addon, and the loader that finds it.
// Native functions return numbers: a result (>= 0) or -errno. Errors are built in errors.ts.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeSelectorHandle {
  /** Creates the kernel object for backend id (see BACKEND_IDS); 0 or -errno. */
  open(backendId: number): number;
  add(fd: number, events: number): number;
  modify(fd: number, events: number): number;
  remove(fd: number): number;
  /** Fills the results Int32Array with (fd, mask) pairs; returns their count or -errno. */
  wait(timeoutMs: number): number;
  close(): void;
  backendFd(): number;
  /** Pins the batched path's shared memory (native/batch_io.h); state[0]: the read slab offset. */
  batchInit(records: Int32Array, writes: Int32Array, writeSlab: Uint8Array, state: Int32Array): void;
  /** The per-fd auto-read marks the cycle consults (> 0: read at most that many bytes when readable). */
  batchMarks(marks: Int32Array): void;
  /** Flushes writeCount writes, takes readSlab if given, waits, auto-reads; records or -errno. */
  cycle(timeoutMs: number, writeCount: number, readSlab: Uint8Array | undefined): number;
  /** Flushes writeCount writes now: 1 if all went out whole, else 0. */
  flush(writeCount: number): number;
}

export interface NativeAddress {
  /** AF_INET, AF_INET6, AF_UNIX, or 0 for an unbound socket. */
  family: number;
  /** Numeric IP text, or the path of a Unix socket. */
  host: string;
  port: number;
}

export interface NativeConstants {
  AF_INET: number;
  AF_INET6: number;
  AF_UNIX: number;
  SOCK_STREAM: number;
  SOCK_DGRAM: number;
  SOL_SOCKET: number;
  SO_REUSEADDR: number;
  SO_REUSEPORT?: number;
  SO_ERROR: number;
  SO_TYPE: number;
  SO_RCVBUF: number;
  SO_SNDBUF: number;
  SO_KEEPALIVE: number;
  IPPROTO_TCP: number;
  TCP_NODELAY: number;
  IPPROTO_IPV6: number;
  IPV6_V6ONLY: number;
  SHUT_RD: number;
  SHUT_WR: number;
  SHUT_RDWR: number;
}

/** A libuv poll on one fd: calls `onReadable` from Node's own event loop. */
export interface NativeFdWatch extends NativeWatch {
  /** Starts watching `fd` for readability: 0, or -errno (uv_poll_init/uv_poll_start). */
  start(fd: number): number;
  ref(): void;
  unref(): void;
  /** Stops watching for good. */
  close(): void;
}

/** What keeps Node's event loop calling an attached Loop: FdWatch or ThreadWatch. */
export interface NativeWatch {
  ref(): void;
  unref(): void;
  /** Stops for good (a ThreadWatch joins its thread and hands the selector its backend back). */
  close(): void;
}

/**
 * A select/poll selector's blocking wait on a native thread (native/wait_thread.h): calls
 * `onReady` from Node's own event loop whenever a batch of readiness waits; the selector's
 * wait() then returns it without blocking.
 */
export interface NativeThreadWatch extends NativeWatch {
  /** Starts the thread on `selector`: 0, or -errno (eventfd/pipe, pthread_create; -EINVAL: see wait_thread.h). */
  start(selector: NativeSelectorHandle): number;
}

export interface NativeAddon {
  NativeSelector: new (results: Int32Array) => NativeSelectorHandle;
  FdWatch: new (onReadable: (status: number) => void) => NativeFdWatch;
  ThreadWatch: new (onReady: () => void) => NativeThreadWatch;
  /** Handles open on Node's event loop (closing ones excluded); for tests. */
  uvHandles(): number;
  /** Backends compiled into this build, best last (epoll/kqueue after select and poll). */
  backends: string[];
  FD_SETSIZE: number;
  constants: NativeConstants;
  socket(family: number, type: number): number;
  bind(fd: number, family: number, host: string, port: number): number;
  connect(fd: number, family: number, host: string, port: number): number;
  listen(fd: number, backlog: number): number;
  accept(fd: number): number;
  recv(fd: number, buf: Uint8Array, offset: number, length: number): number;
  send(fd: number, buf: Uint8Array, offset: number, length: number): number;
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  shutdown(fd: number, how: number): number;
  /** Bytes in the send queue (SIOCOUTQ / SO_NWRITE), or -errno. */
  outq(fd: number): number;
  close(fd: number): number;
  /** fcntl(F_DUPFD_CLOEXEC): a new fd for the same open file, or -errno. */
  dup(fd: number): number;
  setsockopt(fd: number, level: number, name: number, value: number): number;
  getsockopt(fd: number, level: number, name: number): number;
  getsockname(fd: number): NativeAddress | number;
  getpeername(fd: number): NativeAddress | number;
  pipe(): [number, number] | number;
  /** One datagram to (family, host, port); family 0: to the connected peer. Bytes sent or -errno. */
  sendto(
    fd: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    family: number,
    host?: string,
    port?: number,
  ): number;
  /** One datagram and its sender, or -errno. */
  recvfrom(fd: number, buf: Uint8Array, offset: number, length: number): (NativeAddress & { bytes: number }) | number;
  socketpair(): [number, number] | number;
  /** Queues getaddrinfo(host) on a helper thread; a 0 byte goes to wakeFd when it is done. Returns its id. */
  resolverStart(host: string, family: number, wakeFd: number): number;
  /** undefined while running; the result once (then forgotten); -1 for an unknown id. */
  resolverTake(id: number): { status: number; errno: number; addresses: Array<number | string> } | undefined | -1;
  /** Forgets a lookup; its wake fd is never written again after this returns. */
  resolverCancel(id: number): void;
  eaiConstants: Record<string, number>;
  /** Installs a handler that writes the signal number to wakeFd; keeps the old disposition. */
  signalWatch(signo: number, wakeFd: number): number;
  /** Restores the disposition signalWatch replaced. */
  signalUnwatch(signo: number): number;
}

/** The number binding.cc's backend factory takes for each backend name. */
export const BACKEND_IDS = { select: 0, poll: 1, epoll: 2, kqueue: 3 } as const;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'binding.gyp'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('iomux: cannot find the package root (binding.gyp)');
    dir = parent;
  }
  return dir;
}

interface NodeGypBuild {
  (dir: string): unknown;
  /** The file node-gyp-build would load: build/Release, build/Debug, then prebuilds/<platform>-<arch>. */
  resolve(dir: string): string;
}

/**
 * The places node-gyp-build looks, in its order, for the error message. IOMUX_PREBUILD (its
 * convention: `<NAME>_PREBUILD`) replaces the package folder with another one.
 */
function searched(root: string): string[] {
  const dir = process.env.IOMUX_PREBUILD || root;
  return [
    join(dir, 'build', 'Release', '*.node'),
    join(dir, 'build', 'Debug', '*.node'),
    join(dir, 'prebuilds', `${process.platform}-${process.arch}`, '*.node'),
    // node-gyp-build's last resort: prebuilds beside the node binary (for bundled apps).
    join(dirname(process.execPath), 'prebuilds', `${process.platform}-${process.arch}`, '*.node'),
  ];
}

/**
 * Finds the addon the way node-gyp-build does (a local build first, then a matching prebuild);
 * with IOMUX_DEBUG=1, build/Debug (the ASan build of `npm run build:debug`) comes first.
 */
function loadAddon(): NativeAddon {
  const root = packageRoot();
  const require = createRequire(import.meta.url);
  const debug = join(root, 'build', 'Debug', 'iomux.node');
  if (process.env.IOMUX_DEBUG === '1' && existsSync(debug)) return require(debug) as NativeAddon;
  const nodeGypBuild = require('node-gyp-build') as NodeGypBuild;
  let file: string;
  try {
    file = nodeGypBuild.resolve(root);
  } catch (cause) {
    const tried = [...(process.env.IOMUX_DEBUG === '1' ? [debug] : []), ...searched(root)];
    throw new Error(
      `iomux: no native addon for ${process.platform}-${process.arch} (Node ${process.version}). ` +
        `Tried: ${tried.join(', ')}. ` +
        'Rebuild it with `npm rebuild iomux` in your project (or `npx node-gyp rebuild` in the iomux ' +
        'folder); that needs python3, make and a C++ compiler.',
      { cause },
    );
  }
  return require(file) as NativeAddon;
}

/**
 * The addon, loaded once per process. A copy of its exports object: N-API adds the exports one
 * by one, which leaves that object in V8's dictionary mode, and optimised code cannot inline a
 * property load from a dictionary-mode object. Every `native.recv(...)` then went through the
 * generic load IC, 2–3% of a busy pipes loop's CPU in a profile. The copy has fast properties.
 */
export const native: NativeAddon = { ...loadAddon() };
