// pipe() returns two PipeEnd objects (DESIGN §6.4): readInto/write (strings as UTF-8) with null
// for would-block, close/closed/fileno/dispose, EPIPE once the reader is gone, and they work
// wherever a FileLike does: Loop.addReader/addWriter and a selector's register.
import { afterEach, describe, expect, test } from 'vitest';
import { cleanup, hold, openFdCount } from '../helpers/resources.js';
import { PipeEnd, pipe } from '../../src/pipe.js';
import { EVENT_READ, EVENT_WRITE } from '../../src/selectors.js';
import { expectError, openSelector } from '../helpers/fds.js';
import { fdFlags, O_CLOEXEC, O_NONBLOCK } from '../helpers/net.js';
import { inMode, modes } from '../helpers/modes.js';
import { backends, openLoop } from '../loop/helpers.js';

/** A pipe whose ends cleanup() closes (closing twice is harmless for a PipeEnd). */
function trackedPipe(): [PipeEnd, PipeEnd] {
  const p = pipe();
  for (const e of p) hold(() => e.close());
  return p;
}

afterEach(cleanup);

describe('PipeEnd', () => {
  test('carries bytes and UTF-8 strings; null when empty or full; 0 at EOF', () => {
    const [r, w] = trackedPipe();
    for (const end of [r, w]) {
      expect(end.fileno()).toBe(end.fd);
      expect(fdFlags(end.fd) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_NONBLOCK | O_CLOEXEC);
    }
    const buf = Buffer.alloc(64);
    expect(r.readInto(buf)).toBeNull();
    expect(w.write('naïve ✓')).toBe(Buffer.byteLength('naïve ✓'));
    expect(w.write(Buffer.from('xabcx'), 1, 3)).toBe(3);
    const n = r.readInto(buf)!;
    expect(buf.subarray(0, n).toString()).toBe('naïve ✓abc');
    let total = 0;
    for (let k = w.write(Buffer.alloc(65536)); k !== null; k = w.write(Buffer.alloc(65536))) total += k;
    expect(total).toBeGreaterThan(0); // then null: the pipe is full, not an exception
    w.close();
    while (r.readInto(Buffer.alloc(65536)) !== 0) {
      /* drain to EOF */
    }
    expect(r.readInto(buf)).toBe(0);
  });

  test('close() is idempotent; a closed end says closed, fd -1, and refuses work with ERR_SOCKET_CLOSED', () => {
    const before = openFdCount();
    const [r, w] = pipe();
    expect(openFdCount()).toBe(before + 2);
    r.close();
    r.close();
    expect(r.closed).toBe(true);
    expect(r.fd).toBe(-1);
    expectError(() => r.fileno(), Error, 'ERR_SOCKET_CLOSED');
    expectError(() => r.readInto(Buffer.alloc(1)), Error, 'ERR_SOCKET_CLOSED');
    // The reader is gone: the write reports EPIPE (Node ignores SIGPIPE).
    expectError(() => w.write('x'), Error, 'EPIPE');
    {
      using _w = w;
    }
    expect(w.closed).toBe(true);
    expect(openFdCount()).toBe(before);
  });

  test('bad arguments are TypeError / RangeError with codes', () => {
    const [r, w] = trackedPipe();
    expectError(() => w.write(5 as unknown as string), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => r.readInto('x' as unknown as Uint8Array), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => new PipeEnd(-1), RangeError, 'ERR_INVALID_ARG_VALUE');
  });
});

describe.each(backends)('%s selector: PipeEnd registers as a FileLike', (backend) => {
  test('register/select/unregister take the PipeEnd itself', () => {
    const sel = openSelector(backend);
    const [r, w] = trackedPipe();
    sel.register(r, EVENT_READ, 'r');
    sel.register(w, EVENT_WRITE, 'w');
    expect(sel.select(0).map(([k, ev]) => [k.data, ev])).toEqual([['w', EVENT_WRITE]]);
    w.write('x');
    expect(
      sel
        .select(0)
        .map(([k]) => String(k.data))
        .sort((a, b) => a.localeCompare(b)),
    ).toEqual(['r', 'w']);
    expect(sel.unregister(r).fileobj).toBe(r);
    sel.unregister(w);
  });
});

describe.each(modes)('$name: PipeEnd with addReader/addWriter', (mode) => {
  test('the loop reads what another end writes, then EOF', async () => {
    const [r, w] = trackedPipe();
    const got = await inMode(
      mode,
      (loop) =>
        new Promise<string>((resolve) => {
          const parts: string[] = [];
          const buf = Buffer.alloc(16);
          loop.addReader(r, () => {
            const n = r.readInto(buf);
            if (n === null) return;
            if (n > 0) return void parts.push(buf.subarray(0, n).toString());
            loop.removeReader(r);
            resolve(parts.join(''));
          });
          loop.addWriter(w, () => {
            w.write('from the writer');
            loop.removeWriter(w);
            w.close();
          });
        }),
    );
    expect(got).toBe('from the writer');
  });
});

describe.each(backends)('%s: closing a registered PipeEnd unregisters it (DESIGN §6.1)', (backend) => {
  test('from a selector and from a loop, so a new fd with the same number registers normally', () => {
    const sel = openSelector(backend);
    const [r, w] = trackedPipe();
    sel.register(r, EVENT_READ);
    const fd = r.fd;
    r.close();
    w.close();
    expect(sel.getMap().has(fd)).toBe(false);
    const [r2, w2] = trackedPipe();
    expect(r2.fd).toBe(fd); // the lowest free number comes back
    sel.register(r2, EVENT_READ);
    expect(sel.select(0)).toEqual([]);
    w2.write('x');
    expect(sel.select(0).map(([k, ev]) => [k.fileobj, ev])).toEqual([[r2, EVENT_READ]]);
    sel.unregister(r2);
  });

  test('from a Loop: removeReader is not needed, and the loop has nothing left', async () => {
    const loop = openLoop(backend);
    const [r] = trackedPipe();
    loop.addReader(r, () => {});
    r.close();
    expect(loop.selector.getMap().size).toBe(0);
    await loop.run(); // nothing left to wait for: returns at once
  });
});
