// How a server treats a failed accept(2) and a connection its loop cannot watch: one policy for
// the library's Server (transports.ts) and the echo CLI's hand-written accept loops.

// A process out of fds retries accepting after this pause instead of spinning on a listening
// socket that stays readable (libuv and Tornado do likewise).
export const ACCEPT_RETRY_MS = 100;
// At most this many accepts per wake-up, so one busy listener cannot starve the connections.
export const ACCEPTS_PER_WAKE = 64;

/**
 * - 'aborted': the client gave up between the kernel's accept queue and us (ECONNABORTED,
 *   EPROTO): accept the next one.
 * - 'exhausted': out of fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): pause accepting for
 *   ACCEPT_RETRY_MS; the connection waits in the kernel's queue meanwhile.
 * - 'other': anything else, a bug or a broken listener.
 */
export type AcceptFailure = 'aborted' | 'exhausted' | 'other';

const ABORTED = new Set(['ECONNABORTED', 'EPROTO']);
const EXHAUSTED = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

export function classifyAcceptError(err: unknown): AcceptFailure {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'other';
  if (ABORTED.has(code)) return 'aborted';
  return EXHAUSTED.has(code) ? 'exhausted' : 'other';
}

/**
 * Whether registering an accepted connection failed because the backend cannot watch its fd
 * (select(2) and fds >= FD_SETSIZE): the connection is turned away, the server goes on.
 */
export function isUnwatchable(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ERR_FD_OUT_OF_RANGE';
}
