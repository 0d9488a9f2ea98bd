// Byte arguments of send and recvInto (DESIGN §6.4; issue 11 item 3): send() takes a string as its
// UTF-8 bytes, as Node's sockets do; any other type, and a span outside the buffer, fails in
// TypeScript with ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE before the native call is made,
// so nothing is sent and no codeless native error escapes.
import { afterEach, describe, expect, test } from 'vitest';
import { expectError } from '../helpers/fds.js';
import { connectedPair, waitReadable, type PairKind } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

/** Everything `sock` can read right now, as one Buffer (empty when nothing is there). */
function received(sock: ReturnType<typeof connectedPair>[0]): Buffer {
  const buf = Buffer.alloc(1024);
  const n = sock.recvInto(buf);
  return buf.subarray(0, n ?? 0);
}

describe.each(['socketpair', 'tcp4'] as PairKind[])('%s', (kind) => {
  test('send(string) sends its UTF-8 bytes and returns their count', () => {
    const [a, b] = connectedPair(kind);
    const text = 'héllo ✓';
    expect(a.send(text)).toBe(Buffer.byteLength(text));
    waitReadable(b);
    expect(received(b).toString('utf8')).toBe(text);
  });

  test('send(string, offset, length) counts offset and length in UTF-8 bytes', () => {
    const [a, b] = connectedPair(kind);
    // 'é' is two bytes, so bytes 2..4 of 'é-x!' are '-x'.
    expect(a.send('é-x!', 2, 2)).toBe(2);
    expect(a.send('é-x!', 4)).toBe(1);
    waitReadable(b);
    expect(received(b).toString('utf8')).toBe('-x!');
  });

  test('send() of anything but bytes or a string throws ERR_INVALID_ARG_TYPE and sends nothing', () => {
    const [a, b] = connectedPair(kind);
    for (const value of [42, null, undefined, {}, [1, 2], new ArrayBuffer(4), new Uint16Array(2), Symbol('x')]) {
      expectError(() => a.send(value as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    }
    a.send('end');
    waitReadable(b);
    expect(received(b).toString()).toBe('end');
  });

  test('recvInto() of anything but a Uint8Array throws ERR_INVALID_ARG_TYPE', () => {
    const [a] = connectedPair(kind);
    for (const value of ['buf', null, undefined, 5, new ArrayBuffer(4)]) {
      expectError(() => a.recvInto(value as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    }
  });

  test('a span outside the buffer throws RangeError ERR_INVALID_ARG_VALUE naming the argument; a wrong type, ERR_INVALID_ARG_TYPE', () => {
    const [a, b] = connectedPair(kind);
    const buf = Buffer.alloc(8);
    const ranges: Array<[number, number | undefined, string]> = [
      [-1, undefined, 'offset'],
      [9, undefined, 'offset'],
      [1.5, 1, 'offset'],
      [NaN, 1, 'offset'],
      [0, 9, 'length'],
      [4, 5, 'length'],
      [0, -1, 'length'],
      [0, 0.5, 'length'],
      [0, Infinity, 'length'],
    ];
    for (const [offset, length, name] of ranges) {
      expect(expectError(() => a.send(buf, offset, length), RangeError, 'ERR_INVALID_ARG_VALUE').message).toContain(
        `'${name}'`,
      );
      expect(expectError(() => b.recvInto(buf, offset, length), RangeError, 'ERR_INVALID_ARG_VALUE').message).toContain(
        `'${name}'`,
      );
    }
    expectError(() => a.send(buf, '1' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => a.send(buf, 0, '1' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => b.recvInto(buf, null as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    // Nothing of the refused calls went out.
    expect(received(b).length).toBe(0);
  });

  test('an empty span at the end of the buffer is valid', () => {
    const [a] = connectedPair(kind);
    expect(a.send(Buffer.alloc(8), 8)).toBe(0);
    expect(a.send('', 0)).toBe(0);
  });
});
