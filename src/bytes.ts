// The byte arguments of send, write and receive calls, checked in TypeScript so that the native
// transfer functions never see a wrong type or a span outside the buffer (they would throw a
// bare native error). Strings are sent as UTF-8, as Node's own sockets do (DESIGN §6.4).
import { invalidArgType, invalidArgValue } from './errors.js';

/**
 * `data` as bytes: a Uint8Array (Buffer) as it is, a string as its UTF-8 encoding.
 * @throws ERR_INVALID_ARG_TYPE for anything else
 */
export function toBytes(name: string, data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  throw invalidArgType(name, 'a Buffer, Uint8Array or string', data);
}

/** @throws ERR_INVALID_ARG_TYPE unless `buf` is a Uint8Array (Buffer) to receive into. */
export function checkBuffer(name: string, buf: unknown): asserts buf is Uint8Array {
  if (!(buf instanceof Uint8Array)) throw invalidArgType(name, 'a Buffer or Uint8Array', buf);
}

/**
 * Checks that `offset` and `length` are integers that select a span inside `buf`.
 * @throws ERR_INVALID_ARG_TYPE (not a number), ERR_INVALID_ARG_VALUE (RangeError: outside `buf`)
 */
export function checkSpan(buf: Uint8Array, offset: unknown, length: unknown): void {
  // One chain of compares on the common path; the naming of the culprit waits for a failure.
  if (
    Number.isInteger(offset) &&
    Number.isInteger(length) &&
    (offset as number) >= 0 &&
    (length as number) >= 0 &&
    (offset as number) + (length as number) <= buf.length
  )
    return;
  throw spanError(buf.length, offset, length);
}

function spanError(size: number, offset: unknown, length: unknown): Error {
  if (typeof offset !== 'number') return invalidArgType('offset', 'a number', offset);
  if (!Number.isInteger(offset) || offset < 0 || offset > size) {
    return invalidArgValue('offset', `an integer from 0 to ${size} (the buffer's length)`, offset);
  }
  if (typeof length !== 'number') return invalidArgType('length', 'a number', length);
  return invalidArgValue('length', `an integer from 0 to ${size - offset} (the bytes after offset)`, length);
}
