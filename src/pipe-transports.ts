// asyncio's connect_read_pipe / connect_write_pipe: a Transport over one pipe end, so a child
// process's stdout (or stdin) can be driven by a Protocol. The Transport itself is the stream one
// (transports.ts); PipeStream adapts a PipeEnd to the endpoint it drives:
//   read end   reads with read(2); it cannot write (write() ends the transport with an error).
//   write end  writes with write(2). The loop also watches it for reading: a pipe's write end
//              never polls readable, only erroneous once every reader is gone (pipe(7), Linux
//              pipe_poll), which select, poll and epoll all report as READ. That read "fails"
//              with EPIPE, so the transport learns the reader left without having to write
//              (asyncio's unix_events uses the same trick). writeEof() closes the pipe once the
//              queue is flushed: a pipe has no half-close.
import type { Loop } from './loop.js';
import { PipeEnd } from './pipe.js';
import { kBeforeClose } from './close-hooks.js';
import { ReadSlab } from './read-slab.js';
import { Transport, type Protocol, type StreamEndpoint } from './transports.js';
import { errnoError, iomuxError, invalidArgType } from './errors.js';
import { constants as osConstants } from 'node:os';

const EPIPE = -osConstants.errno.EPIPE;

class PipeStream implements StreamEndpoint {
  readonly end: PipeEnd;
  readonly #reading: boolean;
  /** Set by connectWritePipe: writeEof() on a pipe closes the transport. */
  onShutdown: (() => void) | null = null;

  constructor(end: PipeEnd, reading: boolean) {
    this.end = end;
    this.#reading = reading;
  }

  get [kBeforeClose](): (() => void) | null {
    return this.end[kBeforeClose];
  }
  set [kBeforeClose](hook: (() => void) | null) {
    this.end[kBeforeClose] = hook;
  }
  get fd(): number {
    return this.end.fd;
  }
  get closed(): boolean {
    return this.end.closed;
  }
  fileno(): number {
    return this.end.fileno();
  }

  recvInto(buf: Uint8Array, offset?: number, length?: number): number | null {
    if (this.#reading) return this.end.readInto(buf, offset, length);
    throw errnoError(EPIPE, 'write'); // see the top of the file: every reader is gone
  }

  send(buf: Uint8Array, offset?: number, length?: number): number | null {
    if (!this.#reading) return this.end.write(buf, offset, length);
    throw iomuxError('ERR_TRANSPORT_CLOSED', 'A read pipe transport cannot write');
  }

  shutdown(): void {
    this.onShutdown?.();
  }

  close(): void {
    this.end.close();
  }
}

function pipeEnd(pipe: unknown): PipeEnd {
  if (pipe instanceof PipeEnd) return pipe;
  if (typeof pipe === 'number') return new PipeEnd(pipe);
  throw invalidArgType('pipe', 'a PipeEnd or a non-blocking fd', pipe);
}

function connect<P extends Protocol>(
  loop: Loop,
  factory: () => P,
  pipe: PipeEnd | number,
  reading: boolean,
): Promise<[Transport, P]> {
  let end: PipeEnd | undefined;
  try {
    if (typeof factory !== 'function') throw invalidArgType('factory', 'a function that returns a Protocol', factory);
    end = pipeEnd(pipe);
    const stream = new PipeStream(end, reading);
    const protocol = factory();
    const transport = new Transport(loop, stream, protocol, new ReadSlab());
    if (!reading) stream.onShutdown = () => transport.close();
    return Promise.resolve([transport, protocol]);
  } catch (err) {
    // As createConnection does with its socket: the transport took the pipe over, so a failure
    // (a throwing factory, a refused registration) closes it rather than leave it half-owned.
    end?.close();
    return Promise.reject(err);
  }
}

/**
 * Drives `factory()`'s Protocol with what arrives on a pipe's read end (a PipeEnd, or a
 * non-blocking fd the transport takes over): dataReceived, eofReceived when every writer closed,
 * then connectionLost. The transport closes the pipe end when it ends.
 */
export function connectReadPipe<P extends Protocol>(
  loop: Loop,
  factory: () => P,
  pipe: PipeEnd | number,
): Promise<[Transport, P]> {
  return connect(loop, factory, pipe, true);
}

/**
 * A write-only Transport over a pipe's write end, with the stream transport's buffering and
 * pause/resumeWriting. connectionLost gets an EPIPE error once the reader is gone.
 */
export function connectWritePipe<P extends Protocol>(
  loop: Loop,
  factory: () => P,
  pipe: PipeEnd | number,
): Promise<[Transport, P]> {
  return connect(loop, factory, pipe, false);
}
