// One end of a non-blocking pipe, as an object the rest of iomux can use: addReader/register take
// it (it has fileno()), connectReadPipe/connectWritePipe wrap it in a Transport, and closing it
// runs the same before-close hook a Socket has, so whoever registered it unregisters first.
// Would-block is null, as for Socket; every real failure is a Node-style error.
import { native } from './native.js';
import { checkErrno, errnoError, iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { closeWithHooks, kBeforeClose, kCloseHooks } from './close-hooks.js';
import { checkBuffer, checkSpan, toBytes } from './bytes.js';
import { constants as osConstants } from 'node:os';

const EAGAIN = -osConstants.errno.EAGAIN;

/** One end of a pipe (or any non-blocking fd read and written with read(2)/write(2)). */
export class PipeEnd {
  /** @internal The before-close hook (see Socket): the layer that registered this fd unregisters it. */
  [kBeforeClose]: (() => void) | null = null;
  /** @internal Selectors' and loops' close hooks (close-hooks.ts), as Socket has them. */
  [kCloseHooks]: Set<() => void> | null = null;
  #fd: number;

  /** Wraps an open non-blocking fd; the PipeEnd owns it from now on and closes it on close(). */
  constructor(fd: number) {
    if (typeof fd !== 'number') throw invalidArgType('fd', 'a file descriptor (integer)', fd);
    if (!Number.isInteger(fd) || fd < 0) throw invalidArgValue('fd', 'a non-negative integer', fd);
    this.#fd = fd;
  }

  /** The fd, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }
  /** True once close() was called. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** @throws ERR_SOCKET_CLOSED once closed */
  fileno(): number {
    if (this.#fd < 0) throw iomuxError('ERR_SOCKET_CLOSED', 'The pipe end is closed');
    return this.#fd;
  }

  /** Reads into `buf`: the byte count, 0 at EOF (every writer closed), or null when nothing is there yet. */
  readInto(buf: Uint8Array, offset = 0, length = buf.length - offset): number | null {
    checkBuffer('buf', buf);
    checkSpan(buf, offset, length);
    const n = native.read(this.fileno(), buf, offset, length);
    if (n >= 0) return n;
    if (n === EAGAIN) return null;
    throw errnoError(n, 'read');
  }

  /**
   * Writes what the pipe takes now (a string as UTF-8): the byte count, or null when it is full.
   * @throws EPIPE once every reader is gone (Node ignores SIGPIPE, so the write reports it)
   */
  write(data: Uint8Array | string, offset = 0, length?: number): number | null {
    const buf = toBytes('data', data);
    const len = length ?? buf.length - offset;
    checkSpan(buf, offset, len);
    const n = native.write(this.fileno(), buf, offset, len);
    if (n >= 0) return n;
    if (n === EAGAIN) return null;
    throw errnoError(n, 'write');
  }

  /** Releases the fd (running the before-close hook first). Closing twice does nothing. */
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
}

/**
 * A non-blocking, close-on-exec pipe: [read end, write end]. To hand an end to a child process,
 * pass `end.fd` in `stdio` and close yours once it is spawned. The child shares the open file,
 * O_NONBLOCK included: Node children are fine (libuv makes pipes non-blocking anyway), but a
 * program that assumes blocking writes may see EAGAIN when the pipe is full.
 */
export function pipe(): [PipeEnd, PipeEnd] {
  const fds = native.pipe();
  if (typeof fds === 'number') throw errnoError(fds, 'pipe2');
  return [new PipeEnd(fds[0]), new PipeEnd(fds[1])];
}
