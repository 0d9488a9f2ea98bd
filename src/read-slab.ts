// Where a transport's reads land: one large buffer carved into successive views, so that
// dataReceived gets its bytes with neither a copy nor a backing-store allocation per read (only
// the view object). No byte of a slab is written twice and views never overlap, so a protocol
// may keep what it was handed; a kept view keeps its whole slab alive, as with Node's own Buffer
// pool, so code that keeps a small piece for long should copy it (Buffer.from(data)).
//
// Measured by bench/echo, protocol style, 16 KiB messages: the copy into a fresh allocUnsafe()
// buffer per read cost ~2-3 µs of user CPU per message against ~1 µs for the callback style.

import { markAsUntransferable } from 'node:worker_threads';

/**
 * A fresh slab: memory of its own (never Node's shared pool), so it starts at offset 0 of its
 * ArrayBuffer and a view's offset in the slab is its offset in the memory. Untransferable: a
 * protocol handed a view could otherwise transfer the slab's memory away (postMessage,
 * structuredClone with a transfer list) while the loop still reads into it; a transfer now
 * copies instead.
 */
export function newSlab(bytes: number): Buffer {
  const slab = Buffer.allocUnsafeSlow(bytes);
  markAsUntransferable(slab.buffer);
  return slab;
}

/**
 * What a slab's views are: Buffers in every way a program can ask (Buffer.prototype, instanceof,
 * Buffer.isBuffer, constructor), made by one typed-array construction. `slab.subarray()` gets
 * there through Node's Buffer species constructor: 50-80 ns a view here against ~20.
 */
class SlabView extends Uint8Array {}
Object.setPrototypeOf(SlabView.prototype, Buffer.prototype as object);
Object.defineProperty(SlabView.prototype, 'constructor', { value: Buffer, writable: true, configurable: true });

/** A view of `length` bytes at `offset` of a slab from newSlab() whose ArrayBuffer is `memory`. */
export function slabView(memory: ArrayBuffer, offset: number, length: number): Buffer {
  return new SlabView(memory, offset, length) as unknown as Buffer;
}

/** Slab size: 4 full-size reads per allocation. */
export const SLAB_BYTES = 256 * 1024;
/** The most one read asks for; matches the kernel's default loopback socket buffer scale. */
export const MAX_READ = 64 * 1024;
/** Below this much room the rest of a slab is dropped and a new one starts. */
export const MIN_ROOM = 16 * 1024;

/** One transport's (or one server's) read buffer: see the top of this file. */
export class ReadSlab {
  #buf: Buffer | null = null;
  #memory: ArrayBuffer | null = null;
  offset = 0;
  length = MAX_READ;

  /**
   * The next read goes into buf[offset, offset + length). Made on first use: a transport on the
   * batched path reads into the loop's slab and never needs its own.
   */
  get buf(): Buffer {
    if (this.#buf === null) this.#renew();
    return this.#buf!;
  }

  #renew(): void {
    const buf = newSlab(SLAB_BYTES);
    this.#buf = buf;
    this.#memory = buf.buffer as ArrayBuffer;
  }

  /** Hands out the `n` bytes just read at `offset` as a view, and moves past them. */
  take(n: number): Buffer {
    if (this.#memory === null) this.#renew();
    const view = slabView(this.#memory!, this.offset, n);
    // 8-byte steps keep every view aligned for typed-array reinterpretation by the protocol.
    this.offset += (n + 7) & ~7;
    let room = SLAB_BYTES - this.offset;
    if (room < MIN_ROOM) {
      this.#renew();
      this.offset = 0;
      room = SLAB_BYTES;
    }
    this.length = room < MAX_READ ? room : MAX_READ;
    return view;
  }
}
