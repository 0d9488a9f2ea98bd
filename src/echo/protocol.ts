// Echo as an asyncio-style Protocol: the transport sends what the kernel takes and queues the
// rest; past its high-water mark it calls pauseWriting(), and we stop reading from that client
// until the queue drains (backpressure instead of unbounded memory).
//
// The buffered style is the same protocol as asyncio's BufferedProtocol: the transport reads
// straight into a buffer the protocol owns (getBuffer/bufferUpdated) instead of handing
// dataReceived a fresh view. One buffer serves every connection: write() sends what the kernel
// takes before it returns and copies the rest, so the next read may overwrite it.
import type { Loop } from '../loop.js';
import type { Socket } from '../socket.js';
import type { Protocol, Server, Transport } from '../transports.js';
import type { Idleable } from './idle.js';
import { IdleSweeper } from './idle.js';
import { MAX_READ } from '../read-slab.js';
import { listenSocket } from './listen.js';
import { reportAcceptError, turnedAway, type EchoContext, type EchoCounters, type EchoServer } from './contract.js';

/** What every connection of one server shares. */
interface Shared {
  readonly counters: EchoCounters;
  readonly maxConns: number;
  readonly conns: Set<EchoProtocol>;
  /** Set by drain(): called once the last connection is gone. */
  onDrained: (() => void) | null;
}

class EchoProtocol implements Protocol, Idleable {
  readonly #shared: Shared;
  #transport!: Transport;
  touched = true;
  quietSince = 0;
  sendQueue = -1;
  /** Shutting down: what still arrives is dropped (see drain()). */
  #draining = false;

  constructor(shared: Shared) {
    this.#shared = shared;
  }

  get sock(): Socket {
    return this.#transport.socket;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    const shared = this.#shared;
    if (shared.conns.size >= shared.maxConns || shared.onDrained !== null) {
      shared.counters.refused++;
      transport.abort();
      return;
    }
    shared.conns.add(this);
    shared.counters.conns++;
  }

  dataReceived(data: Uint8Array): void {
    if (this.#draining) return;
    const counters = this.#shared.counters;
    counters.msgs++;
    counters.bytes += data.length;
    this.touched = true;
    this.#transport.write(data);
  }

  pauseWriting(): void {
    this.#transport.pauseReading();
  }

  resumeWriting(): void {
    this.touched = true;
    this.#transport.resumeReading();
  }

  connectionLost(): void {
    const shared = this.#shared;
    if (!shared.conns.delete(this)) return;
    shared.counters.conns--;
    if (shared.onDrained !== null && shared.conns.size === 0) {
      const done = shared.onDrained;
      shared.onDrained = () => {}; // keeps refusing latecomers
      done();
    }
  }

  /**
   * Shutdown: sends what is queued, then half-closes (FIN) and reads and drops whatever still
   * arrives until the peer's EOF closes it. Closing with unread input would reset the connection
   * (RST) and could destroy the last echo in flight.
   */
  drain(): void {
    const t = this.#transport;
    this.#draining = true;
    t.writeEof();
    t.resumeReading();
  }
  abort(): void {
    this.#transport.abort();
  }
  closeIdle(): void {
    this.#transport.abort();
  }
}

/** The buffered style: reads land in the server's one buffer and are echoed from there. */
class BufferedEchoProtocol extends EchoProtocol {
  readonly #buffer: Uint8Array;
  /** #buffer's memory, kept: asking a typed array for .buffer is a call into the runtime. */
  readonly #memory: ArrayBuffer;

  constructor(shared: Shared, memory: ArrayBuffer) {
    super(shared);
    this.#buffer = new Uint8Array(memory);
    this.#memory = memory;
  }

  getBuffer(): Uint8Array {
    return this.#buffer;
  }

  bufferUpdated(nbytes: number): void {
    this.dataReceived(new Uint8Array(this.#memory, 0, nbytes));
  }
}

/** The protocol style, or (opts.style 'buffered') its BufferedProtocol variant. */
export async function startProtocolEcho(loop: Loop, ctx: EchoContext): Promise<EchoServer> {
  const { opts, counters } = ctx;
  // One buffer for every connection, as large as one read asks for.
  const memory = opts.style === 'buffered' ? new ArrayBuffer(MAX_READ) : null;
  const shared: Shared = { counters, maxConns: opts.maxConns, conns: new Set(), onDrained: null };
  const server: Server = await loop.createServer(
    () => (memory === null ? new EchoProtocol(shared) : new BufferedEchoProtocol(shared, memory)),
    opts.inherited
      ? { sock: listenSocket(opts).sock }
      : opts.path !== null
        ? { path: opts.path }
        : { host: opts.host, port: opts.port },
  );
  server.onAcceptError = (err) => reportAcceptError(ctx, loop, err);
  server.onRefused = (err) => turnedAway(ctx, loop, err);
  const idle = new IdleSweeper(loop, opts.idleTimeoutMs, shared.conns);
  idle.start();

  return {
    address: server.address,
    counters,
    stopAccepting(): void {
      idle.stop();
      server.close();
    },
    drain(done: () => void): void {
      if (shared.conns.size === 0) {
        shared.onDrained = () => {};
        return done();
      }
      shared.onDrained = done;
      for (const p of shared.conns) p.drain();
    },
    abortAll(): void {
      for (const p of shared.conns) p.abort();
      server.abortConnections();
    },
  };
}
