// asyncio's datagram endpoints: a DatagramTransport owns one UDP socket and turns readiness into
// DatagramProtocol calls. Each datagram arrives whole (boundaries are kept: one recvfrom, one
// datagramReceived). Socket errors (an ICMP port-unreachable shows up as ECONNREFUSED on a
// connected socket's next call, udp(7)) go to errorReceived and the endpoint stays open.
// Sends go straight to the kernel while nothing is queued; what it cannot take now is queued
// whole, with pauseWriting/resumeWriting at the same water marks as the stream transport.
import { isIP } from 'node:net';
import type { Loop } from './loop.js';
import { Socket } from './socket.js';
import { kBeforeClose } from './close-hooks.js';
import { toBytes } from './bytes.js';
import { iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { resolveHostPort } from './names.js';

import type { HostPort } from './socket.js';
export type { HostPort } from './socket.js';

/** The callbacks a DatagramTransport makes, after asyncio's DatagramProtocol; all but datagramReceived are optional. */
export interface DatagramProtocol {
  /** The endpoint is ready; called once, before any other callback. */
  connectionMade?(transport: DatagramTransport): void;
  /** One whole datagram (a fresh Buffer the protocol may keep) and its sender. */
  datagramReceived(data: Buffer, address: HostPort): void;
  /** A socket error (e.g. ECONNREFUSED from an ICMP error); the endpoint stays open. */
  errorReceived?(err: Error): void;
  /** The endpoint closed: null after close(), else the error that ended it. */
  connectionLost?(err: Error | null): void;
  /** The send queue rose above its high-water mark (64 KiB): stop sending until resumeWriting(). */
  pauseWriting?(): void;
  /** The send queue fell to its low-water mark (16 KiB): sending may go on. */
  resumeWriting?(): void;
}

/** Where loop.createDatagramEndpoint() binds and connects (at least one of the two). */
export interface DatagramEndpointOptions {
  /** Bind here (port 0: any free port). */
  local?: HostPort;
  /** Connect here: sendTo() needs no address, and only this peer's datagrams arrive. */
  remote?: HostPort;
  /** SO_REUSEADDR on the socket before bind. */
  reuseAddress?: boolean;
}

// asyncio's stream defaults: pause at 64 KiB queued, resume at a quarter of that.
const HIGH_WATER = 64 * 1024;
const LOW_WATER = HIGH_WATER / 4;
// The largest UDP payload (65535 - 8 - 20) fits, so no datagram is ever truncated on receipt.
const MAX_DATAGRAM = 65536;
/** A datagram the kernel could not take yet, and where it goes (null: the connected peer). */
type Queued = { bytes: Uint8Array; to: HostPort | null };

// Datagrams handled per readiness: one busy peer may not starve the other fds.
const READS_PER_WAKE = 32;

/**
 * A UDP endpoint driving a DatagramProtocol (asyncio's DatagramTransport): whole datagrams in,
 * whole datagrams out, sends queued while the kernel has no room. Made by loop.createDatagramEndpoint().
 */
export class DatagramTransport {
  readonly #loop: Loop;
  readonly #sock: Socket;
  readonly #fd: number;
  readonly #protocol: DatagramProtocol;
  readonly #remote: HostPort | null;
  readonly #buf = Buffer.allocUnsafe(MAX_DATAGRAM);
  #state: 'open' | 'closing' | 'closed' = 'open';
  // Invariant: #queuedBytes === the sum of the queued datagrams' lengths.
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #writePaused = false;

  /** @internal Made by loop.createDatagramEndpoint(). */
  constructor(loop: Loop, sock: Socket, protocol: DatagramProtocol, remote: HostPort | null) {
    this.#loop = loop;
    this.#sock = sock;
    this.#fd = sock.fileno();
    this.#protocol = protocol;
    this.#remote = remote;
    sock[kBeforeClose] = () => this.#unregister();
    loop.addReader(this.#fd, this.#onReadable);
    loop.callSoon(() => this.#protocol.connectionMade?.(this));
  }

  /** The UDP socket underneath. */
  get socket(): Socket {
    return this.#sock;
  }
  /** The address the socket is bound to (the port the kernel picked, for port 0). */
  get localAddress(): HostPort {
    return this.#sock.localAddress as HostPort;
  }
  /** The connected peer, or null for an unconnected endpoint. */
  get remoteAddress(): HostPort | null {
    return this.#remote === null ? null : (this.#sock.remoteAddress as HostPort);
  }
  /** Bytes queued and not yet sent. */
  getWriteBufferSize(): number {
    return this.#queuedBytes;
  }
  /** True once close() or abort() was called or the endpoint failed. */
  isClosing(): boolean {
    return this.#state !== 'open';
  }

  /**
   * Sends one datagram (a string as UTF-8). A connected endpoint takes no address (or only its
   * own peer's). A send error goes to errorReceived, as asyncio does.
   * @throws ERR_TRANSPORT_CLOSED, ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE (an address missing,
   *   or another peer's on a connected endpoint)
   */
  sendTo(data: Uint8Array | string, address?: HostPort): void {
    const bytes = toBytes('data', data);
    if (this.#state !== 'open') throw iomuxError('ERR_TRANSPORT_CLOSED', 'Cannot send after close() or abort()');
    const to = this.#target(address);
    if (this.#queue.length === 0) {
      try {
        if (this.#sendOne(bytes, to) !== null) return;
      } catch (err) {
        this.#error(err as Error);
        return;
      }
      this.#loop.addWriter(this.#fd, this.#onWritable);
    }
    this.#queue.push({ bytes: Buffer.from(bytes), to });
    this.#queuedBytes += bytes.length;
    if (!this.#writePaused && this.#queuedBytes > HIGH_WATER) {
      this.#writePaused = true;
      this.#call(() => this.#protocol.pauseWriting?.());
    }
  }

  /** Stops receiving, sends what is queued, then closes and calls connectionLost(null). */
  close(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    if (this.#loop.closed) return this.#finish(null);
    this.#loop.removeReader(this.#fd);
    if (this.#queue.length === 0) this.#finish(null);
  }

  /** Closes at once; queued datagrams are dropped. */
  abort(): void {
    this.#finish(null);
  }

  #target(address: HostPort | undefined): HostPort | null {
    if (this.#remote !== null) {
      if (address !== undefined && (address.host !== this.#remote.host || address.port !== this.#remote.port)) {
        throw invalidArgValue(
          'address',
          `the connected peer ${this.#remote.host}:${this.#remote.port} or nothing`,
          address,
        );
      }
      return null;
    }
    if (address === undefined)
      throw invalidArgType('address', 'an object { host, port } (the endpoint is not connected)', address);
    return address;
  }

  #sendOne(bytes: Uint8Array, to: HostPort | null): number | null {
    return to === null ? this.#sock.send(bytes) : this.#sock.sendTo(bytes, to);
  }

  #onReadable = (): void => {
    for (let i = 0; i < READS_PER_WAKE && this.#state === 'open'; i++) {
      let got: { bytes: number; address: HostPort } | null;
      try {
        got = this.#sock.recvFrom(this.#buf);
      } catch (err) {
        this.#error(err as Error);
        continue; // the error was consumed by that call; more datagrams may be waiting
      }
      if (got === null) return;
      this.#protocol.datagramReceived(Buffer.from(this.#buf.subarray(0, got.bytes)), got.address);
    }
  };

  #onWritable = (): void => {
    const queue: Queued[] = this.#queue;
    for (let head = queue[0]; head !== undefined; head = queue[0]) {
      const { bytes, to } = head;
      let sent: number | null;
      try {
        sent = this.#sendOne(bytes, to);
      } catch (err) {
        sent = bytes.length; // dropped, as asyncio drops a datagram whose send failed
        this.#error(err as Error);
      }
      if (sent === null) return;
      queue.shift();
      this.#queuedBytes -= bytes.length;
    }
    if (this.#state === 'closed') return;
    this.#loop.removeWriter(this.#fd);
    if (this.#writePaused && this.#queuedBytes <= LOW_WATER) {
      this.#writePaused = false;
      this.#call(() => this.#protocol.resumeWriting?.());
    }
    if (this.#state === 'closing') this.#finish(null);
  };

  #error(err: Error): void {
    this.#call(() => this.#protocol.errorReceived?.(err));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#loop.callSoon(() => {
        throw err;
      }); // reaches the loop's exception handler
    }
  }

  #unregister(): void {
    if (this.#loop.closed) return;
    this.#loop.removeReader(this.#fd);
    this.#loop.removeWriter(this.#fd);
  }

  #finish(err: Error | null): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#sock[kBeforeClose] = null;
    this.#unregister();
    this.#sock.close();
    if (this.#loop.closed) return;
    this.#loop.callSoon(() => this.#protocol.connectionLost?.(err));
  }
}

function checkHostPort(name: string, value: unknown): HostPort | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'an object { host, port }', value);
  return value as HostPort;
}

/**
 * A UDP endpoint: bound to `local` and/or connected to `remote` (hosts are numeric addresses or
 * names, resolved with `resolve` first). The socket's family follows the addresses (IPv6 if one
 * is IPv6), IPv4 otherwise.
 */
export async function createDatagramEndpoint<P extends DatagramProtocol>(
  loop: Loop,
  factory: () => P,
  opts: DatagramEndpointOptions,
): Promise<[DatagramTransport, P]> {
  if (typeof factory !== 'function')
    throw invalidArgType('factory', 'a function that returns a DatagramProtocol', factory);
  if (typeof opts !== 'object' || opts === null)
    throw invalidArgType('options', 'an object { local, remote, reuseAddress }', opts);
  let local = checkHostPort('options.local', opts.local);
  let remote = checkHostPort('options.remote', opts.remote);
  if (local === undefined && remote === undefined) {
    throw invalidArgValue('options', 'an object with local, remote or both', opts, TypeError);
  }
  // The first address fixes the family; the other one is resolved in it.
  if (local !== undefined) local = await resolveHostPort(loop, local, 0);
  const family: 0 | 4 | 6 = local === undefined ? 0 : isIP(local.host) === 6 ? 6 : 4;
  if (remote !== undefined) remote = await resolveHostPort(loop, remote, family);
  const six = isIP((local ?? remote)!.host) === 6;
  const sock = six ? Socket.udp6() : Socket.udp();
  try {
    if (opts.reuseAddress) sock.setReuseAddress(true);
    if (local !== undefined) sock.bind(local);
    if (remote !== undefined) sock.connect(remote);
    const protocol = factory();
    return [new DatagramTransport(loop, sock, protocol, remote ?? null), protocol];
  } catch (err) {
    sock.close();
    throw err;
  }
}
