// Test helpers for the socket, transport, async/await and example suites: connected socket pairs of
// every kind (made synchronously, each wait bounded), Unix socket paths in os.tmpdir(), a port
// nobody listens on, bulk send/receive until the kernel says "would block", and Node clients in a
// child process whose report the loop reads from a pipe.
//
// Everything made here is held in ./resources.ts: its cleanup() (run it in afterEach) closes every
// socket, removes every path and kills every child, so a failing test leaks nothing into the next. The fd-level helpers stay in fds.ts; loops come from ../loop/helpers.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native.js';
import { EVENT_READ, EVENT_WRITE, createSelector } from '../../src/selectors.js';
import { Socket, socketpair as rawSocketpair } from '../../src/socket.js';
import type { Loop } from '../../src/loop.js';
import type { ConnectOptions, Protocol, Server, Transport } from '../../src/transports.js';
import { hold } from './resources.js';

export type PairKind = 'tcp4' | 'tcp6' | 'unix' | 'socketpair';

// fd -> the function that drops it from the cleanup list (closeTracked() closes it early).
const rawFds = new Map<number, () => void>();

/** Tracks `sock` (and returns it) so cleanup() closes it. */
export function track<T extends Socket>(sock: T): T {
  hold(() => sock.close());
  return sock;
}

/** Tracks a transport server so cleanup() closes it and aborts its connections. */
export function trackServer(server: Server): Server {
  hold(() => {
    try {
      server.close();
      server.abortConnections();
    } catch {
      // the loop is already closed: the tracked sockets are closed directly
    }
  });
  return server;
}

let pathCount = 0;

/** A fresh Unix socket path in os.tmpdir() (nothing there yet); removed by cleanup(). */
export function unixPath(): string {
  const path = join(tmpdir(), `iomux-test-${process.pid}-${pathCount++}.sock`);
  rmSync(path, { force: true });
  return trackPath(path);
}

/** Registers a path made some other way for removal by cleanup(). */
export function trackPath(path: string): string {
  hold(() => rmSync(path, { force: true }));
  return path;
}

/** A loopback TCP port nobody listens on (bound once, then released without listening). */
export function closedPort(host = '127.0.0.1'): number {
  const s = Socket.forHost(host);
  try {
    s.bind({ host, port: 0 });
    return (s.localAddress as { port: number }).port;
  } finally {
    s.close();
  }
}

let ipv6: boolean | undefined;

/** Whether this machine can bind a TCP socket to ::1. */
export function ipv6LoopbackAvailable(): boolean {
  if (ipv6 === undefined) {
    try {
      const s = Socket.tcp6();
      try {
        s.bind({ host: '::1', port: 0 });
        ipv6 = true;
      } finally {
        s.close();
      }
    } catch {
      ipv6 = false;
    }
  }
  return ipv6;
}

/**
 * Waits (really blocking, at most `ms`) until `sock` is ready for `events`; returns the ready
 * mask, or 0 on timeout. For socket-level tests that need no loop.
 */
export function waitFor(sock: Socket | number, events: number, ms = 2000): number {
  const sel = createSelector('poll');
  try {
    sel.register(sock, events);
    const ready = sel.select(ms);
    return ready.length === 0 ? 0 : ready[0][1];
  } finally {
    sel.close();
  }
}

export function waitReadable(sock: Socket | number, ms = 2000): void {
  if (waitFor(sock, EVENT_READ, ms) === 0)
    throw new Error(`fd ${typeof sock === 'number' ? sock : sock.fd} not readable within ${ms} ms`);
}

export function waitWritable(sock: Socket | number, ms = 2000): void {
  if (waitFor(sock, EVENT_WRITE, ms) === 0)
    throw new Error(`fd ${typeof sock === 'number' ? sock : sock.fd} not writable within ${ms} ms`);
}

/** A listening socket of `kind` on loopback (an ephemeral port or a fresh path); tracked. */
export function listener(kind: Exclude<PairKind, 'socketpair'>, backlog = 64): Socket {
  const sock = track(kind === 'tcp4' ? Socket.tcp() : kind === 'tcp6' ? Socket.tcp6() : Socket.unix());
  if (kind === 'unix') sock.bind({ path: unixPath() });
  else sock.bind({ host: kind === 'tcp4' ? '127.0.0.1' : '::1', port: 0 });
  sock.listen(backlog);
  return sock;
}

/** A client socket of the listener's family connected to it (connect finished); tracked. */
export function connectTo(server: Socket): Socket {
  const client = track(
    server.family === 'IPv4' ? Socket.tcp() : server.family === 'IPv6' ? Socket.tcp6() : Socket.unix(),
  );
  if (!client.connect(server.localAddress)) {
    waitWritable(client);
    client.finishConnect();
  }
  return client;
}

/** Accepts the next connection, waiting for it at most 2 s; tracked. */
export function acceptFrom(server: Socket): Socket {
  let conn = server.accept();
  if (conn === null) {
    waitReadable(server);
    conn = server.accept();
  }
  if (conn === null) throw new Error('accept(): nothing pending after the listener became readable');
  return track(conn);
}

/** A connected [client, server-side] pair of `kind`, made synchronously; all tracked. */
export function connectedPair(kind: PairKind): [Socket, Socket] {
  if (kind === 'socketpair') {
    const [a, b] = rawSocketpair();
    return [track(a), track(b)];
  }
  const l = listener(kind);
  const client = connectTo(l);
  const server = acceptFrom(l);
  l.close();
  return [client, server];
}

/** A pipe through the addon [read fd, write fd], closed by cleanup(). */
export function trackedPipe(): [number, number] {
  const fds = native.pipe();
  if (typeof fds === 'number') throw new Error(`pipe2 failed: ${fds}`);
  for (const fd of fds) {
    rawFds.set(
      fd,
      hold(() => {
        rawFds.delete(fd);
        native.close(fd);
      }),
    );
  }
  return fds;
}

/** Closes one fd made by trackedPipe() now. */
export function closeTracked(fd: number): void {
  const forget = rawFds.get(fd);
  if (forget === undefined) return;
  forget();
  rawFds.delete(fd);
  native.close(fd);
}

const chunk = Buffer.alloc(256 * 1024, 'f');

/** Sends until the kernel would block; returns the bytes it took. */
export function fillSocket(sock: Socket): number {
  let total = 0;
  for (let n = sock.send(chunk); n !== null; n = sock.send(chunk)) total += n;
  return total;
}

/** Reads until the kernel would block or EOF; returns [bytes read, saw EOF]. */
export function drainSocket(sock: Socket): [number, boolean] {
  const buf = Buffer.allocUnsafe(256 * 1024);
  let total = 0;
  for (;;) {
    const n = sock.recvInto(buf);
    if (n === null) return [total, false];
    if (n === 0) return [total, true];
    total += n;
  }
}

/**
 * Caps the kernel's send and receive buffers of `sock` at `bytes` (Linux doubles the value for
 * its bookkeeping and enforces a small minimum). A set size also turns off TCP autotuning, whose
 * ceiling (net.ipv4.tcp_wmem / tcp_rmem) differs from machine to machine: a test that needs bytes
 * to stay queued in user space must not depend on how much the kernel happens to take. For a
 * client, call it before connect, so the advertised window is sized for it.
 */
export function smallBuffers(sock: Socket, bytes = 4096): void {
  for (const opt of [native.constants.SO_SNDBUF, native.constants.SO_RCVBUF]) {
    const rc = native.setsockopt(sock.fd, native.constants.SOL_SOCKET, opt, bytes);
    if (rc < 0) throw new Error(`setsockopt(SO_SNDBUF/SO_RCVBUF, ${bytes}) failed: errno ${-rc}`);
  }
}

/** `n` random bytes. */
export function randomPayload(n: number): Buffer {
  return randomBytes(n);
}

/** A random integer in [lo, hi]. */
export function randomInt(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** `n` bytes of a deterministic pattern that is not periodic at any small power of two. */
export function pattern(n: number, seed = 0): Buffer {
  const buf = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    buf[i] = x >>> 24;
  }
  return buf;
}

/**
 * Runs `node --input-type=module -e code` with `args` as process.argv.slice(1); its stdout is a
 * pipe that `readOnLoop` reads on the loop (Node's own loop is blocked while the iomux loop runs,
 * so Node's pipes would not be read). The child's stderr goes to the test's. Killed by cleanup().
 */
export function spawnNode(code: string, args: string[] = []): { child: ChildProcess; stdout: number } {
  const [r, w] = trackedPipe();
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, '--', ...args], {
    stdio: ['ignore', w, 'inherit'],
  });
  hold(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  closeTracked(w); // the child holds the write end now: EOF on r means it exited
  return { child, stdout: r };
}

/** Reads `fd` on `loop` until EOF; resolves with everything read and closes the fd. */
export function readOnLoop(loop: Loop, fd: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const buf = Buffer.allocUnsafe(64 * 1024);
    loop.addReader(fd, () => {
      const n = native.read(fd, buf, 0, buf.length);
      if (n === -osConstants.errno.EAGAIN) return;
      if (n > 0) {
        parts.push(Buffer.from(buf.subarray(0, n)));
        return;
      }
      loop.removeReader(fd);
      closeTracked(fd);
      if (n === 0) resolve(Buffer.concat(parts));
      else reject(new Error(`read failed: ${n}`));
    });
  });
}

/** The error `p` rejects with (fails if it resolves). */
export async function rejectionOf(
  p: Promise<unknown>,
): Promise<Error & { code?: string; errno?: number; syscall?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** The O_* flags of an open fd, from /proc/self/fdinfo. */
export function fdFlags(fd: number): number {
  const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const m = /^flags:\s+([0-7]+)$/m.exec(text);
  if (m === null) throw new Error(`no flags in /proc/self/fdinfo/${fd}`);
  return parseInt(m[1], 8);
}

export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

/**
 * A Protocol that records what the transport tells it: the calls in order, the data, and how the
 * connection ended. `lost` resolves with connectionLost's argument. Hooks let a test act on events.
 */
export class Recorder implements Protocol {
  transport!: Transport;
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  received = 0;
  /** What eofReceived() returns. */
  keepOpenOnEof = false;
  lostWith: Error | null | undefined = undefined;
  readonly lost: Promise<Error | null>;
  #resolveLost!: (err: Error | null) => void;
  onMade?: (t: Transport) => void;
  onData?: (data: Buffer, t: Transport) => void;
  onEof?: (t: Transport) => void;
  onPause?: (t: Transport) => void;
  onResume?: (t: Transport) => void;

  constructor(
    init: Partial<Pick<Recorder, 'keepOpenOnEof' | 'onMade' | 'onData' | 'onEof' | 'onPause' | 'onResume'>> = {},
  ) {
    Object.assign(this, init);
    this.lost = new Promise((resolve) => (this.#resolveLost = resolve));
  }

  connectionMade(t: Transport): void {
    this.transport = t;
    this.events.push('made');
    this.onMade?.(t);
  }

  dataReceived(data: Buffer): void {
    if (this.events[this.events.length - 1] !== 'data') this.events.push('data');
    this.chunks.push(data);
    this.received += data.length;
    this.onData?.(data, this.transport);
  }

  eofReceived(): boolean {
    this.events.push('eof');
    this.onEof?.(this.transport);
    return this.keepOpenOnEof;
  }

  connectionLost(err: Error | null): void {
    this.events.push('lost');
    this.lostWith = err;
    this.#resolveLost(err);
  }

  pauseWriting(): void {
    this.events.push('pause');
    this.onPause?.(this.transport);
  }

  resumeWriting(): void {
    this.events.push('resume');
    this.onResume?.(this.transport);
  }

  data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * An echo client for spawnNode(), on Node's own `net` (an independent implementation to test the
 * examples against). Arguments: port, sessions, rounds, max payload bytes. Each session connects,
 * then for each round writes a random payload (in one write: Node buffers what the kernel will
 * not take) and waits for exactly that many bytes back, comparing them; then it ends its side and
 * waits for the server's EOF. Prints one JSON report: sessions completed, rounds, bytes checked,
 * mismatches and errors. Gives up (and says so) after 15 s.
 */
export const ECHO_CLIENT = `
import net from 'node:net';
import { randomBytes } from 'node:crypto';
const [port, sessions, rounds, maxSize] = process.argv.slice(1).map(Number);
const report = { sessions: 0, rounds: 0, bytes: 0, mismatches: 0, errors: [], timedOut: false };
const done = () => process.stdout.write(JSON.stringify(report));
setTimeout(() => { report.timedOut = true; done(); process.exit(2); }, 15000).unref();
function session() {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let round = 0, expected = null, got = [], gotLen = 0;
    const next = () => {
      if (round === rounds) return sock.end();
      round++;
      expected = randomBytes(1 + Math.floor(Math.random() * maxSize));
      got = []; gotLen = 0;
      sock.write(expected);
    };
    sock.on('connect', next);
    sock.on('data', (d) => {
      got.push(d); gotLen += d.length;
      if (expected === null || gotLen > expected.length) { report.mismatches++; return sock.destroy(); }
      if (gotLen < expected.length) return;
      if (!Buffer.concat(got).equals(expected)) report.mismatches++;
      report.rounds++; report.bytes += gotLen; expected = null;
      next();
    });
    sock.on('end', () => { if (round === rounds && expected === null) report.sessions++; });
    sock.on('error', (e) => report.errors.push(e.code ?? e.message));
    sock.on('close', resolve);
  });
}
await Promise.all(Array.from({ length: sessions }, session));
done();
`;

/** loop.createConnection, typed with the protocol the factory makes (Loop's returns a plain Protocol). */
export async function connect<P extends Protocol>(
  loop: Loop,
  factory: () => P,
  opts: ConnectOptions,
): Promise<[Transport, P]> {
  const [t, p] = await loop.createConnection(factory, opts);
  return [t, p as P];
}
