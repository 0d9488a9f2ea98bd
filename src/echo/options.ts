// The echo server's settings, and the parsers that turn each command-line flag into one. A parser
// throws `UsageError` with a message that names the flag, what it expects and what it got; the
// CLI prints that one line and exits 2.
import { isIP } from 'node:net';
import { availableBackends, bestBackend, type BackendName } from '../selectors.js';
import { MAX_UNIX_PATH_BYTES } from '../socket.js';

export const STYLES = ['callback', 'protocol', 'buffered', 'async'] as const;
export type EchoStyle = (typeof STYLES)[number];

export interface EchoOptions {
  host: string;
  port: number;
  /** A Unix socket path; replaces host and port. */
  path: string | null;
  backend: BackendName;
  style: EchoStyle;
  workers: number;
  /** Connections over this many are closed as soon as they are accepted (Infinity: no limit). */
  maxConns: number;
  /** Connections silent this long are closed (0: never). */
  idleTimeoutMs: number;
  /** How long open connections get to finish their current echo after SIGINT/SIGTERM. */
  graceMs: number;
  quiet: boolean;
  stats: boolean;
  /** Serve from Node's own event loop (Loop.attach()) instead of Loop.run(). */
  embedded: boolean;
  /**
   * A worker's inherited listening socket (control.ts's LISTEN_FD), opened once by the
   * supervisor and shared by every worker: one accept queue. False: open one here.
   */
  inherited: boolean;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 7007,
  style: 'protocol' as EchoStyle,
  workers: 1,
  graceMs: 2000,
} as const;

export const MAX_WORKERS = 64;
// setTimeout's own ceiling (2**31 - 1 ms, about 24.8 days); longer would wrap in most timers.
const MAX_MS = 2 ** 31 - 1;
const MAX_CONNS = 1_000_000;

export class UsageError extends Error {
  override name = 'UsageError';
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = /^[+]?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

export const parsePort = (text: string): number => integer('--port', text, 0, 65535);
export const parseWorkers = (text: string): number => integer('--workers', text, 1, MAX_WORKERS);
export const parseMaxConns = (text: string): number => integer('--max-conns', text, 1, MAX_CONNS);
export const parseIdleTimeout = (text: string): number => integer('--idle-timeout', text, 0, MAX_MS);
export const parseGrace = (text: string): number => integer('--grace', text, 0, MAX_MS);

export function parseHost(text: string): string {
  if (text === 'localhost' || isIP(text) !== 0) return text === 'localhost' ? '127.0.0.1' : text;
  throw new UsageError(`--host must be a numeric IPv4/IPv6 address or 'localhost' (no DNS lookups), got '${text}'`);
}

export function parseBackend(text: string): BackendName {
  const have = availableBackends();
  if ((have as string[]).includes(text)) return text as BackendName;
  const known = ['select', 'poll', 'epoll', 'kqueue'].includes(text);
  throw new UsageError(
    known
      ? `--backend ${text} is not available on ${process.platform} (available: ${have.join(', ')})`
      : `--backend must be one of ${have.join(', ')}, got '${text}'`,
  );
}

export function parseStyle(text: string): EchoStyle {
  if ((STYLES as readonly string[]).includes(text)) return text as EchoStyle;
  throw new UsageError(`--style must be one of ${STYLES.join(', ')}, got '${text}'`);
}

export function parseUnixPath(text: string): string {
  if (text.length === 0 || text.includes('\0') || Buffer.byteLength(text) > MAX_UNIX_PATH_BYTES) {
    throw new UsageError(`--unix must be a socket path of 1 to ${MAX_UNIX_PATH_BYTES} bytes, got '${text}'`);
  }
  return text;
}

/** The platform's best backend (selectors.ts decides, as for DefaultSelector). */
export const defaultBackend = bestBackend;

/** Checks that the flags make sense together. `explicit` names the flags given on the command line. */
export function checkCombination(opts: EchoOptions, explicit: ReadonlySet<string>): void {
  if (opts.path !== null) {
    if (explicit.has('host') || explicit.has('port')) {
      throw new UsageError('--unix cannot be combined with --host or --port');
    }
    if (opts.workers > 1) {
      throw new UsageError('--unix cannot be combined with --workers > 1 (not supported yet)');
    }
  }
}

/** `127.0.0.1:7007`, `[::1]:7007` or the Unix socket path. */
export function formatEndpoint(host: string, port: number, path: string | null): string {
  if (path !== null) return path;
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The one line every start prints: where it listens and how. */
export function listeningLine(opts: EchoOptions, port: number): string {
  const workers = `${opts.workers} worker${opts.workers === 1 ? '' : 's'}`;
  return (
    `iomux echo listening on ${formatEndpoint(opts.host, port, opts.path)} ` +
    `(backend ${opts.backend}, style ${opts.style}, ${workers})`
  );
}

// Workers get their settings as JSON in an environment variable (see supervisor.ts).
export function encodeOptions(opts: EchoOptions): string {
  return JSON.stringify({ ...opts, maxConns: Number.isFinite(opts.maxConns) ? opts.maxConns : null });
}

export function decodeOptions(text: string): EchoOptions {
  const raw = JSON.parse(text) as EchoOptions & { maxConns: number | null };
  return { ...raw, maxConns: raw.maxConns ?? Infinity };
}
