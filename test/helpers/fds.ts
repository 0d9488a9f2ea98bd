// Test helpers: non-blocking fds made through the addon, child processes that act on them later,
// and expectReady(), which compares what a selector reports with the expected (fd, mask) pairs.
//
// Everything made here is held in ./resources.ts: its cleanup() (run it in afterEach) closes every
// fd and selector and kills every child still running, so a failing test leaks nothing into the next.
import { constants as osConstants } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { expect } from 'vitest';
import { errnoError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  createSelector,
  type BackendName,
  type BaseSelector,
  type SelectorKey,
} from '../../src/selectors.js';
import { hold } from './resources.js';

export { EVENT_READ, EVENT_WRITE };
export const RW = EVENT_READ | EVENT_WRITE;

const EAGAIN = -osConstants.errno.EAGAIN;
// fd -> the function that drops it from the cleanup list (closeFd() closes it early).
const openFds = new Map<number, () => void>();

function keep(fd: number): number {
  openFds.set(
    fd,
    hold(() => {
      openFds.delete(fd);
      native.close(fd);
    }),
  );
  return fd;
}

function check(ret: number, syscall: string): number {
  if (ret < 0) throw errnoError(ret, syscall);
  return ret;
}

function pair(made: [number, number] | number, syscall: string): [number, number] {
  if (typeof made === 'number') throw errnoError(made, syscall);
  keep(made[0]);
  keep(made[1]);
  return made;
}

/** A non-blocking, close-on-exec pipe: [read end, write end]. Closed by cleanup(). */
export function pipe(): [number, number] {
  return pair(native.pipe(), 'pipe2');
}

/** A non-blocking Unix stream socketpair. Closed by cleanup(). */
export function socketpair(): [number, number] {
  return pair(native.socketpair(), 'socketpair');
}

/** A listening TCP socket on 127.0.0.1 (an ephemeral port) and its port. Closed by cleanup(). */
export function tcpListener(): [fd: number, port: number] {
  const { AF_INET, SOCK_STREAM } = native.constants;
  const fd = check(native.socket(AF_INET, SOCK_STREAM), 'socket');
  keep(fd);
  check(native.bind(fd, AF_INET, '127.0.0.1', 0), 'bind');
  check(native.listen(fd, 16), 'listen');
  const addr = native.getsockname(fd);
  if (typeof addr === 'number') throw errnoError(addr, 'getsockname');
  return [fd, addr.port];
}

/** Starts a non-blocking connect to 127.0.0.1:port; the connection may still be in progress. */
export function tcpConnect(port: number): number {
  const { AF_INET, SOCK_STREAM } = native.constants;
  const fd = check(native.socket(AF_INET, SOCK_STREAM), 'socket');
  keep(fd);
  const rc = native.connect(fd, AF_INET, '127.0.0.1', port);
  if (rc < 0 && rc !== -osConstants.errno.EINPROGRESS) throw errnoError(rc, 'connect');
  return fd;
}

/** Accepts one pending connection (tracked), or returns null when none is pending. */
export function tcpAccept(listener: number): number | null {
  const fd = native.accept(listener);
  if (fd === EAGAIN) return null;
  keep(check(fd, 'accept'));
  return fd;
}

/** Closes a tracked fd now (so cleanup() will not close a later fd that reuses the number). */
export function closeFd(fd: number): void {
  const forget = openFds.get(fd);
  if (forget === undefined) throw new Error(`closeFd(${fd}): not an fd these helpers opened`);
  forget();
  openFds.delete(fd);
  check(native.close(fd), 'close');
}

/** A number that is not an open fd right now (the lowest free one, as the kernel would hand out). */
export function unusedFd(): number {
  const [r, w] = pipe();
  closeFd(r);
  closeFd(w);
  return r;
}

/** Writes `data` (a string, or a byte count of 'x') once; returns the bytes written. */
export function writeBytes(fd: number, data: string | number = 'x'): number {
  const buf = typeof data === 'number' ? Buffer.alloc(data, 'x') : Buffer.from(data);
  return check(native.write(fd, buf, 0, buf.length), 'write');
}

const chunk = Buffer.alloc(64 * 1024, 'f');

/** Writes until the kernel says EAGAIN: the fd is then not writable. Returns the bytes written. */
export function fill(fd: number): number {
  let total = 0;
  for (;;) {
    const n = native.write(fd, chunk, 0, chunk.length);
    if (n === EAGAIN) return total;
    total += check(n, 'write');
  }
}

/** Reads until EAGAIN or EOF; returns the bytes read. */
export function drain(fd: number): number {
  const buf = Buffer.alloc(64 * 1024);
  let total = 0;
  for (;;) {
    const n = native.read(fd, buf, 0, buf.length);
    if (n === EAGAIN || n === 0) return total;
    total += check(n, 'read');
  }
}

/** shutdown(2) with SHUT_WR: the peer reads EOF, this end may still read. */
export function shutdownWrite(fd: number): void {
  check(native.shutdown(fd, native.constants.SHUT_WR), 'shutdown');
}

/** A selector that cleanup() (./resources.ts) closes. */
export function openSelector<T = unknown>(backend: BackendName): BaseSelector<T> {
  const sel = createSelector<T>(backend);
  hold(() => sel.close());
  return sel;
}

/** The soft RLIMIT_NOFILE of this process. */
export function fdSoftLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s+/)[3];
  return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
}

/**
 * Runs `sh -c script` with stdio ignored and `fds` inherited as fd 3, 4, ... in its own process
 * group, so that killing it also ends the `sleep` it may be waiting on. Killed by cleanup().
 */
export function shell(script: string, ...fds: number[]): ChildProcess {
  // Without LD_PRELOAD: under `npm run test:asan` it names the ASan runtime, which would make
  // every sh, sleep and kill start slowly enough to miss the timings these children keep.
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'ignore', ...fds], detached: true, env });
  hold(() => killGroup(child));
  return child;
}

/**
 * SIGKILLs a shell's whole process group. Only while Node has not reaped the shell: until then
 * its pid (the group id) cannot have been reused by an unrelated process.
 */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * Makes `fd` ready later, from a child process (the test process is blocked in select meanwhile):
 * after `ms` it writes one byte to the inherited fd. The sleep does not hold the fd, so killing
 * the shell releases it.
 */
export function writeLater(fd: number, ms: number): ChildProcess {
  return shell(`sleep ${seconds(ms)} 3>&-; printf x >&3`, fd);
}

/** Sends `signal` (e.g. 'USR2') to `pid` after `ms`, from a child process. */
export function signalLater(pid: number, signal: string, ms: number): ChildProcess {
  return shell(`sleep ${seconds(ms)}; kill -s ${signal} ${pid}`);
}

/**
 * Kills this test process after `ms` unless disposed first: turns a wait that would block
 * forever (a native call no JS timer can interrupt) into a failed run instead of a hung one.
 */
export function watchdog(ms: number): Disposable {
  const child = signalLater(process.pid, 'KILL', ms);
  return { [Symbol.dispose]: () => killGroup(child) };
}

/** Runs fn and returns its result with the elapsed wall time in (fractional) milliseconds. */
export function timed<R>(fn: () => R): [R, number] {
  const start = performance.now();
  const result = fn();
  return [result, performance.now() - start];
}

export type Pair = [fd: number, mask: number];

const byFd = (a: Pair, b: Pair) => a[0] - b[0] || a[1] - b[1];

/**
 * Turns select() results into sorted (fd, mask) pairs, checking on the way that each key is the
 * selector's current key for its fd and that no fd appears twice (§3: one entry per fd).
 */
export function pairsOf<T>(selector: BaseSelector<T>, results: Array<[SelectorKey<T>, number]>): Pair[] {
  const pairs = results.map(([key, mask]): Pair => {
    expect(selector.getKey(key.fd), `the key reported for fd ${key.fd} is the registered one`).toBe(key);
    return [key.fd, mask];
  });
  const fds = pairs.map(([fd]) => fd);
  expect(new Set(fds).size, `one entry per fd in ${JSON.stringify(pairs)}`).toBe(fds.length);
  return pairs.sort(byFd);
}

/** Asserts that select(timeout) reports exactly `expected` (order does not matter). */
export function expectReady<T>(selector: BaseSelector<T>, timeout: number | null | undefined, expected: Pair[]): void {
  const got = pairsOf(selector, selector.select(timeout));
  expect(got, `${selector.backend}.select(${timeout})`).toEqual([...expected].sort(byFd));
}

/** Asserts that select(timeout) reports nothing. */
export function expectNothingReady<T>(selector: BaseSelector<T>, timeout = 0): void {
  expectReady(selector, timeout, []);
}

/** An error as iomux raises them: a `code`, and for failed syscalls `errno` and `syscall`. */
export type CodedError = Error & { code: string; errno?: number; syscall?: string };

/** Asserts that fn throws an error of class `Base` with `code` (and returns it for more checks). */
export function expectError(fn: () => unknown, Base: new (...args: never[]) => Error, code: string): CodedError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected a ${Base.name} with code ${code}`).toBeInstanceOf(Base);
  expect((thrown as { code?: unknown }).code).toBe(code);
  return thrown as CodedError;
}
