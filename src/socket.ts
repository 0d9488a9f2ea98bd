// A Python-socket-like wrapper over a non-blocking fd. Would-block is an ordinary answer (null),
// never an exception; every real failure is a Node-style error with code, errno and syscall.
// The socket knows nothing of the loop: aio.ts and transports.ts do the waiting.
import { constants as osConstants } from 'node:os';
import { isIP } from 'node:net';
import { inspect, type InspectOptionsStylized } from 'node:util';
import { describeObject } from './inspect.js';
import { checkBuffer, checkSpan, toBytes } from './bytes.js';
import { native } from './native.js';
import { checkErrno, errnoError, iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { closeWithHooks, kBeforeClose, kCloseHooks } from './close-hooks.js';

/** A numeric IP address and a port: where a datagram came from or goes. */
export interface HostPort {
  /** Numeric IPv4 or IPv6 address (a name, where a method says it resolves one). */
  host: string;
  /** Port, 0 to 65535. */
  port: number;
}

/** What recvFrom() read: the datagram's size and its sender. */
export interface ReceivedDatagram {
  /** Bytes written into the buffer: the whole datagram. */
  bytes: number;
  /** The sender. */
  address: HostPort;
}

/** `{ host, port }` for TCP (numeric IPv4/IPv6, or 'localhost'), `{ path }` for Unix sockets. */
export type Address =
  | {
      /** Numeric IPv4 or IPv6 address, or 'localhost'. */
      host: string;
      /** TCP port, 0 to 65535 (0: the kernel picks one, for bind). */
      port: number;
    }
  | {
      /** Unix socket path, at most 107 bytes. */
      path: string;
    };
/** The address family of a Socket. */
export type SocketFamily = 'IPv4' | 'IPv6' | 'unix';

const C = native.constants;
const EAGAIN = -osConstants.errno.EAGAIN;
const EINPROGRESS = -osConstants.errno.EINPROGRESS;
// sun_path is 108 bytes on Linux, one of them the terminating NUL (unix(7)).
export const MAX_UNIX_PATH_BYTES = 107;

const FAMILY_CODES: Record<SocketFamily, number> = { IPv4: C.AF_INET, IPv6: C.AF_INET6, unix: C.AF_UNIX };

/** Validates an address for a socket of `family`; returns [host-or-path, port]. */
function resolveAddress(family: SocketFamily, addr: unknown, name = 'address'): [string, number] {
  if (typeof addr !== 'object' || addr === null) {
    throw invalidArgType(name, family === 'unix' ? 'an object { path }' : 'an object { host, port }', addr);
  }
  if (family === 'unix') {
    const { path } = addr as { path?: unknown };
    if (typeof path !== 'string' || path.length === 0) throw invalidArgType(`${name}.path`, 'a non-empty string', path);
    if (path.includes('\0')) throw invalidArgValue(`${name}.path`, 'a path without NUL bytes', path);
    if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
      throw invalidArgValue(`${name}.path`, `at most ${MAX_UNIX_PATH_BYTES} bytes long`, path);
    }
    return [path, 0];
  }
  const { host, port } = addr as { host?: unknown; port?: unknown };
  if (typeof host !== 'string') throw invalidArgType(`${name}.host`, 'a string', host);
  if (typeof port !== 'number') throw invalidArgType(`${name}.port`, 'a number', port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidArgValue(`${name}.port`, 'an integer from 0 to 65535', port);
  }
  const numeric = host === 'localhost' ? (family === 'IPv6' ? '::1' : '127.0.0.1') : host;
  const version = isIP(numeric);
  if (version === 0) {
    throw invalidArgValue(
      `${name}.host`,
      "a numeric IP address or 'localhost' (no DNS lookups here: loop.sockConnect() and loop.getaddrinfo() resolve names)",
      host,
      TypeError,
    );
  }
  if ((version === 6) !== (family === 'IPv6')) {
    throw invalidArgValue(`${name}.host`, `an ${family} address for this ${family} socket`, host, TypeError);
  }
  return [numeric, port];
}

function toAddress(result: ReturnType<typeof native.getsockname>, syscall: string): Address {
  if (typeof result === 'number') throw errnoError(result, syscall);
  if (result.family === C.AF_UNIX) return { path: result.host };
  return { host: result.host, port: result.port };
}

/**
 * A slot for the wait state of the layer that awaits on a socket (aio.ts): a field read per call
 * where a WeakMap keyed by the socket cost a hash lookup, two or three per echoed message.
 * @internal
 */
export const kWaitState: unique symbol = Symbol('iomux.waitState');

/**
 * A non-blocking stream socket (TCP over IPv4 or IPv6, or Unix), after Python's `socket`. Calls
 * never wait: "would block" is an ordinary answer (`null`, or `false` from connect()), and every
 * real failure throws a Node-style error with `code`, negative `errno` and `syscall`. Waiting for
 * readiness is the loop's job (Loop.sockRecv() and friends, or a Transport).
 */
export class Socket {
  /** 'IPv4', 'IPv6' or 'unix'. */
  readonly family: SocketFamily;
  /** @internal */
  [kBeforeClose]: (() => void) | null = null;
  /** @internal aio.ts's wait state for this socket, or null. */
  [kWaitState]: unknown = null;
  /** Selectors and loops watching this socket unregister it here before it closes (§6.1). */
  [kCloseHooks]: Set<() => void> | null = null;
  #fd: number;

  /**
   * Wraps an open non-blocking socket fd; the Socket owns it from now on.
   * @throws RangeError ERR_INVALID_ARG_VALUE for a bad fd, TypeError ERR_INVALID_ARG_VALUE for an
   *   unknown family
   */
  constructor(fd: number, family: SocketFamily) {
    if (!Number.isInteger(fd) || fd < 0) throw invalidArgValue('fd', 'a non-negative integer', fd);
    if (!Object.hasOwn(FAMILY_CODES, family))
      throw invalidArgValue('family', "'IPv4', 'IPv6' or 'unix'", family, TypeError);
    this.#fd = fd;
    this.family = family;
  }

  /**
   * A new TCP socket over IPv4.
   * @throws a system error from socket(2), e.g. EMFILE
   */
  static tcp(): Socket {
    return Socket.#create('IPv4');
  }
  /**
   * A new TCP socket over IPv6.
   * @throws a system error from socket(2), e.g. EAFNOSUPPORT or EMFILE
   */
  static tcp6(): Socket {
    return Socket.#create('IPv6');
  }
  /**
   * A UDP socket (IPv4): sendTo/recvFrom, or connect() then send/recvInto.
   * @throws a system error from socket(2), e.g. EMFILE
   */
  static udp(): Socket {
    return Socket.#create('IPv4', C.SOCK_DGRAM);
  }
  /** A UDP socket (IPv6). @throws as udp() */
  static udp6(): Socket {
    return Socket.#create('IPv6', C.SOCK_DGRAM);
  }
  /**
   * A new Unix stream socket.
   * @throws a system error from socket(2), e.g. EMFILE
   */
  static unix(): Socket {
    return Socket.#create('unix');
  }

  /**
   * A TCP socket of the family that `host` belongs to ('localhost' is IPv4).
   * @throws as tcp() and tcp6()
   */
  static forHost(host: string): Socket {
    return isIP(host) === 6 ? Socket.tcp6() : Socket.tcp();
  }

  static #create(family: SocketFamily, type: number = C.SOCK_STREAM): Socket {
    return new Socket(checkErrno(native.socket(FAMILY_CODES[family], type), 'socket'), family);
  }

  /** The fd, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }
  /** True once close() has run. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * The fd, for a selector (a Socket is a FileLike).
   * @throws ERR_SOCKET_CLOSED
   */
  fileno(): number {
    return this.#open();
  }

  /**
   * Binds to a local address (port 0: the kernel picks one; see localAddress).
   * @throws TypeError / RangeError (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE) for an address that
   *   does not fit the family, ERR_SOCKET_CLOSED, or a system error such as EADDRINUSE or EACCES
   */
  bind(address: Address): void {
    const fd = this.#open();
    const [host, port] = resolveAddress(this.family, address);
    checkErrno(native.bind(fd, FAMILY_CODES[this.family], host, port), 'bind');
  }

  /**
   * Starts accepting connections.
   * @param backlog - the kernel's queue length for connections not yet accepted
   * @throws RangeError ERR_INVALID_ARG_VALUE for a bad backlog, ERR_SOCKET_CLOSED, or a system error
   */
  listen(backlog = 511): void {
    if (typeof backlog !== 'number' || !Number.isInteger(backlog) || backlog < 0) {
      throw invalidArgValue('backlog', 'a non-negative integer', backlog);
    }
    checkErrno(native.listen(this.#open(), backlog), 'listen');
  }

  /**
   * A connected socket, or null when no connection is waiting.
   * @throws ERR_SOCKET_CLOSED, or a system error from accept4(2) (EMFILE, ECONNABORTED ...)
   */
  accept(): Socket | null {
    const rc = native.accept(this.#open());
    if (rc >= 0) return new Socket(rc, this.family);
    if (rc === EAGAIN) return null;
    throw errnoError(rc, 'accept4');
  }

  /**
   * Starts connecting. Returns true when already connected (Unix sockets often are), false when
   * the connection is in progress: wait until writable, then call finishConnect().
   * @throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for a bad address, ERR_SOCKET_CLOSED, or a
   *   system error such as ECONNREFUSED, ENOENT (Unix path) or EAGAIN (a full Unix backlog)
   */
  connect(address: Address): boolean {
    const fd = this.#open();
    const [host, port] = resolveAddress(this.family, address);
    const rc = native.connect(fd, FAMILY_CODES[this.family], host, port);
    if (rc === 0) return true;
    // Only EINPROGRESS means "in progress". EAGAIN (a Unix listener's full backlog, or no free
    // local port) is a failure the kernel does not retry: waiting for writability would then
    // report success on a socket that never connected (connect(2), unix(7); libuv agrees).
    if (rc === EINPROGRESS) return false;
    throw errnoError(rc, 'connect');
  }

  /**
   * After a connect in progress became writable: throws the connect error (SO_ERROR), if any.
   * @throws the connect error (syscall 'connect'), e.g. ECONNREFUSED; ERR_SOCKET_CLOSED
   */
  finishConnect(): void {
    const soError = checkErrno(native.getsockopt(this.#open(), C.SOL_SOCKET, C.SO_ERROR), 'getsockopt');
    if (soError !== 0) throw errnoError(-soError, 'connect');
  }

  /**
   * Reads into `buf` (from `offset`, at most `length` bytes): the byte count, 0 at EOF, or null
   * when nothing is there yet.
   * @throws ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE (a span outside `buf`), ERR_SOCKET_CLOSED,
   *   a system error such as ECONNRESET
   */
  recvInto(buf: Uint8Array, offset = 0, length?: number): number | null {
    checkBuffer('buf', buf);
    const len = length ?? buf.length - offset;
    checkSpan(buf, offset, len);
    const n = native.recv(this.#fd, buf, offset, len);
    if (n >= 0) return n;
    return this.#failed(n, 'recv');
  }

  /**
   * Reads up to `n` bytes into a new Buffer (empty at EOF), or null when nothing is there yet.
   * @throws RangeError ERR_INVALID_ARG_VALUE unless `n` is a positive integer; as recvInto()
   */
  recv(n: number): Buffer | null {
    if (!Number.isInteger(n) || n <= 0) throw invalidArgValue('n', 'a positive integer', n);
    const buf = Buffer.allocUnsafe(n);
    const got = this.recvInto(buf);
    return got === null ? null : buf.subarray(0, got);
  }

  /**
   * Writes what the kernel takes now: the byte count, or null when its buffer is full. A string
   * is sent as UTF-8; `offset`, `length` and the count are then in bytes of that encoding.
   * @throws ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE (a span outside `data`), ERR_SOCKET_CLOSED,
   *   a system error such as EPIPE
   */
  send(data: Uint8Array | string, offset = 0, length?: number): number | null {
    const buf = toBytes('data', data);
    const len = length ?? buf.length - offset;
    checkSpan(buf, offset, len);
    const n = native.send(this.#fd, buf, offset, len);
    if (n >= 0) return n;
    return this.#failed(n, 'send');
  }

  /**
   * Sends one datagram (a string as UTF-8) to `address`: the byte count, or null when the
   * kernel's buffer is full. Datagrams are never split: a short count does not happen.
   * @throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE, ERR_SOCKET_CLOSED, a system error
   *   such as EMSGSIZE or ECONNREFUSED (an ICMP error reported by an earlier datagram)
   */
  sendTo(data: Uint8Array | string, address: HostPort): number | null {
    const buf = toBytes('data', data);
    const fd = this.#open();
    const [host, port] = resolveAddress(this.family, address);
    const n = native.sendto(fd, buf, 0, buf.length, FAMILY_CODES[this.family], host, port);
    if (n >= 0) return n;
    return this.#failed(n, 'sendto');
  }

  /**
   * Receives one datagram into `buf` (a longer one is truncated to fit, as recvfrom(2) does):
   * its byte count and sender, or null when none is waiting.
   */
  recvFrom(buf: Uint8Array): ReceivedDatagram | null {
    checkBuffer('buf', buf);
    const r = native.recvfrom(this.#open(), buf, 0, buf.length);
    if (typeof r === 'number') return this.#failed(r, 'recvfrom');
    return { bytes: r.bytes, address: { host: r.host, port: r.port } };
  }

  /**
   * Shuts down one or both directions (shutdown(2)); 'write' sends EOF to the peer.
   * @throws TypeError ERR_INVALID_ARG_VALUE for another `how`, ERR_SOCKET_CLOSED, or a system error
   *   such as ENOTCONN
   */
  shutdown(how: 'read' | 'write' | 'both' = 'both'): void {
    const code = how === 'read' ? C.SHUT_RD : how === 'write' ? C.SHUT_WR : how === 'both' ? C.SHUT_RDWR : -1;
    if (code < 0) throw invalidArgValue('how', "'read', 'write' or 'both'", how, TypeError);
    checkErrno(native.shutdown(this.#open(), code), 'shutdown');
  }

  /**
   * Bytes written to this socket that the peer has not taken yet (sent but unacknowledged, or
   * not sent): the kernel's send queue. It shrinking means the peer is reading.
   * @throws ERR_SOCKET_CLOSED; a system error from ioctl (SIOCOUTQ) or getsockopt (SO_NWRITE)
   */
  sendQueueSize(): number {
    return checkErrno(native.outq(this.#open()), 'ioctl');
  }

  /**
   * Releases the fd. Closing twice does nothing. Waiters on this socket (Loop.sockRecv() ...)
   * are rejected with ERR_SOCKET_CLOSED.
   * @throws a system error from close(2); the fd is released even then
   */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    closeWithHooks(this, () => {
      this.#fd = -1;
      checkErrno(native.close(fd), 'close');
    });
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Socket { fd: 7, family: 'IPv4', closed: false }` */
  [inspect.custom](depth: number, options: InspectOptionsStylized): string {
    return describeObject('Socket', { fd: this.#fd, family: this.family, closed: this.closed }, depth, options);
  }

  /**
   * The bound address (getsockname(2)).
   * @throws ERR_SOCKET_CLOSED, or a system error
   */
  get localAddress(): Address {
    return toAddress(native.getsockname(this.#open()), 'getsockname');
  }
  /**
   * The peer's address (getpeername(2)).
   * @throws ERR_SOCKET_CLOSED, or a system error such as ENOTCONN
   */
  get remoteAddress(): Address {
    return toAddress(native.getpeername(this.#open()), 'getpeername');
  }

  /**
   * TCP_NODELAY: send small writes at once instead of coalescing them (Nagle).
   * @throws ERR_SOCKET_CLOSED, or a system error (EOPNOTSUPP on a Unix socket)
   */
  setNoDelay(on = true): void {
    this.#setFlag(C.IPPROTO_TCP, C.TCP_NODELAY, on);
  }
  /**
   * SO_REUSEADDR: bind a port that still has connections in TIME_WAIT.
   * @throws ERR_SOCKET_CLOSED, or a system error
   */
  setReuseAddress(on = true): void {
    this.#setFlag(C.SOL_SOCKET, C.SO_REUSEADDR, on);
  }
  /**
   * SO_REUSEPORT: let several sockets bind the same port; the kernel spreads connections over them.
   * @throws EOPNOTSUPP where the platform has no SO_REUSEPORT; ERR_SOCKET_CLOSED
   */
  setReusePort(on = true): void {
    if (C.SO_REUSEPORT === undefined) throw errnoError(-osConstants.errno.EOPNOTSUPP, 'setsockopt');
    this.#setFlag(C.SOL_SOCKET, C.SO_REUSEPORT, on);
  }

  #setFlag(level: number, name: number, on: boolean): void {
    checkErrno(native.setsockopt(this.#open(), level, name, on ? 1 : 0), 'setsockopt');
  }

  #open(): number {
    if (this.#fd < 0) throw iomuxError('ERR_SOCKET_CLOSED', 'The socket is closed');
    return this.#fd;
  }

  // The slow path of recvInto/send, kept apart so the fast path stays small.
  #failed(rc: number, syscall: string): null {
    if (rc === EAGAIN) return null;
    if (this.#fd < 0) throw iomuxError('ERR_SOCKET_CLOSED', 'The socket is closed');
    throw errnoError(rc, syscall);
  }
}

/**
 * A connected pair of non-blocking, close-on-exec Unix stream sockets.
 * @throws a system error from socketpair(2), e.g. EMFILE
 */
export function socketpair(): [Socket, Socket] {
  const fds = native.socketpair();
  if (typeof fds === 'number') throw errnoError(fds, 'socketpair');
  return [new Socket(fds[0], 'unix'), new Socket(fds[1], 'unix')];
}
