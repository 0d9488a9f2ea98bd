// Every error iomux raises. Argument errors are TypeError/RangeError with a `code`, as Node's own
// are; failed syscalls have Node's shape: `EBADF: bad file descriptor, epoll_ctl`, with `code`,
// a negative `errno` and `syscall`.
import { getSystemErrorMap, getSystemErrorName, inspect } from 'node:util';

/** The stable codes of iomux's own errors (system errors carry the errno name instead). */
export type IomuxErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_FD_OUT_OF_RANGE'
  | 'ERR_FD_ALREADY_REGISTERED'
  | 'ERR_FD_NOT_REGISTERED'
  | 'ERR_SELECTOR_CLOSED'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_LOOP_CLOSED'
  | 'ERR_LOOP_RUNNING'
  | 'ERR_LOOP_STOPPED'
  | 'ERR_LOOP_STALLED'
  | 'ERR_SOCKET_CLOSED'
  | 'ERR_TRANSPORT_CLOSED'
  | 'ERR_CANCELLED'
  | 'ERR_INCOMPLETE_READ'
  | 'ERR_LIMIT_OVERRUN';

type ErrorBase = typeof Error | typeof TypeError | typeof RangeError;

/** An error that carries one of iomux's stable codes. `instanceof` still sees TypeError etc. */
export type IomuxError = Error & {
  /** Which error this is. */
  code: IomuxErrorCode;
};

/** An error of class `Base` (Error, TypeError or RangeError) with one of iomux's codes. */
export function iomuxError(code: IomuxErrorCode, message: string, Base: ErrorBase = Error): IomuxError {
  const err = new Base(message) as IomuxError;
  err.code = code;
  return err;
}

/** A failed syscall, shaped like Node's own (`err.code === 'EBADF'`, `err.errno === -os.constants.errno.EBADF`). */
export interface SystemError extends Error {
  /** The errno name, e.g. 'EBADF'. */
  code: string;
  /** The negative errno, as Node reports it. */
  errno: number;
  /** The syscall that failed, e.g. 'epoll_ctl'. */
  syscall: string;
}

/** Builds the error for a native `-errno` return value. */
export function errnoError(negErrno: number, syscall: string): SystemError {
  const code = safeErrorName(negErrno);
  const description = getSystemErrorMap().get(negErrno)?.[1] ?? 'unknown error';
  const err = new Error(`${code}: ${description}, ${syscall}`) as SystemError;
  err.code = code;
  err.errno = negErrno;
  err.syscall = syscall;
  return err;
}

/** A native return value: `-errno` becomes the thrown system error, anything else is returned. */
export function checkErrno(rc: number, syscall: string): number {
  if (rc < 0) throw errnoError(rc, syscall);
  return rc;
}

function safeErrorName(negErrno: number): string {
  try {
    return getSystemErrorName(negErrno);
  } catch {
    return `Unknown system error ${negErrno}`;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object' && value !== null) return inspect(value, { depth: 0, breakLength: Infinity });
  return `${inspect(value)} (${typeof value})`;
}

/** "The argument 'fd' must be a non-negative integer. Received -1 (number)" */
export function invalidArgValue(
  name: string,
  expected: string,
  received: unknown,
  Base: ErrorBase = RangeError,
): IomuxError {
  return iomuxError(
    'ERR_INVALID_ARG_VALUE',
    `The argument '${name}' must be ${expected}. Received ${describe(received)}`,
    Base,
  );
}

/** A TypeError ERR_INVALID_ARG_TYPE: "The argument 'data' must be a Buffer ... Received 5 (number)" */
export function invalidArgType(name: string, expected: string, received: unknown): IomuxError {
  return iomuxError(
    'ERR_INVALID_ARG_TYPE',
    `The argument '${name}' must be ${expected}. Received ${describe(received)}`,
    TypeError,
  );
}

/** Throws ERR_INVALID_ARG_TYPE unless `cb` is a function. */
export function checkCallback(cb: unknown, name = 'callback'): asserts cb is () => void {
  if (typeof cb !== 'function') throw invalidArgType(name, 'a function', cb);
}
