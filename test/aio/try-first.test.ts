// Try first, wait only if needed (src/aio.ts header): when the kernel can answer at once, an
// awaited call makes the syscall, resolves without running the loop and registers nothing with
// the selector. When it must wait, it registers once; the registration is kept across back-to-back
// waits (no epoll_ctl per message) and dropped by the next iteration after nobody waits on it.
// Reads try first on a { batch: false } loop, which these tests use; on the batched path (the
// default) a read comes with the loop's native call instead, tested at the end of the file.
import { afterEach, describe, expect, test } from 'vitest';
import { Socket } from '../../src/socket.js';
import { EVENT_READ, EVENT_WRITE } from '../../src/selectors.js';
import { backends, openLoop as openTestLoop } from '../loop/helpers.js';
import { connectTo, connectedPair, fillSocket, listener, track, unixPath, waitReadable } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

describe.each(backends)('%s loop', (backend) => {
  const openLoop = (b: typeof backend, budgetMs?: number) => openTestLoop(b, budgetMs, false);

  test('sockRecv/sockRecvInto with data already there resolve without the loop and register nothing', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    a.send(Buffer.from('ready and waiting'));
    waitReadable(b);
    const p1 = loop.sockRecv(b, 5);
    expect(loop.selector.getMap().size).toBe(0);
    expect((await p1).toString()).toBe('ready');
    const buf = Buffer.alloc(64);
    const p2 = loop.sockRecvInto(b, buf);
    expect(loop.selector.getMap().size).toBe(0);
    expect(await p2).toBe(12);
    expect(loop.selector.selects).toBe(0); // the loop never ran
  });

  test('sockRecvInto at EOF resolves 0 without the loop', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('socketpair');
    a.close();
    expect(await loop.sockRecvInto(b, Buffer.alloc(4))).toBe(0);
    expect(loop.selector.getMap().size).toBe(0);
  });

  test('sockSendAll with room in the kernel resolves without the loop and registers nothing', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    const p = loop.sockSendAll(a, Buffer.alloc(32 * 1024, 'q'));
    expect(loop.selector.getMap().size).toBe(0);
    await p;
    waitReadable(b);
    expect(b.recv(64 * 1024)!.length).toBeGreaterThan(0);
    expect(loop.selector.selects).toBe(0);
  });

  test('sockAccept with a connection pending resolves without the loop and registers nothing', async () => {
    const loop = openLoop(backend);
    const l = listener('tcp4');
    connectTo(l);
    waitReadable(l);
    const p = loop.sockAccept(l);
    expect(loop.selector.getMap().size).toBe(0);
    track(await p);
    expect(loop.selector.selects).toBe(0);
  });

  test('sockConnect to a Unix listener connects at once, without the loop', async () => {
    const loop = openLoop(backend);
    const path = unixPath();
    const l = track(Socket.unix());
    l.bind({ path });
    l.listen();
    const c = track(Socket.unix());
    const p = loop.sockConnect(c, { path });
    expect(loop.selector.getMap().size).toBe(0);
    await p;
    expect(c.remoteAddress).toEqual({ path });
  });

  test('a read that must wait registers the fd for READ only, once', () => {
    const loop = openLoop(backend);
    const [, b] = connectedPair('tcp4');
    void loop.sockRecv(b, 4).catch(() => {});
    expect(loop.selector.getMap().size).toBe(1);
    expect(loop.selector.getKey(b.fd).events).toBe(EVENT_READ);
    b.close(); // rejects the waiter (see cancellation.test.ts)
  });

  test('a sendAll that must wait registers the fd for WRITE; a read beside it shares the registration', () => {
    const loop = openLoop(backend);
    const [a] = connectedPair('tcp4');
    fillSocket(a);
    void loop.sockSendAll(a, Buffer.from('more')).catch(() => {});
    expect(loop.selector.getKey(a.fd).events).toBe(EVENT_WRITE);
    void loop.sockRecv(a, 4).catch(() => {});
    expect(loop.selector.getKey(a.fd).events).toBe(EVENT_READ | EVENT_WRITE);
    expect(loop.selector.getMap().size).toBe(1);
    a.close();
  });

  test('back-to-back waits keep one registration (no unregister/register per message); it is dropped once idle', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    let registered = 0;
    const sel = loop.selector;
    const register = sel.register.bind(sel);
    sel.register = (...args: Parameters<typeof register>) => {
      registered++;
      return register(...args);
    };
    let sent = 0;
    // The peer answers each read a little later, so every sockRecv has to wait.
    const tick = () => {
      if (sent < 20) {
        a.send(Buffer.from('m'));
        sent++;
        loop.callLater(2, tick);
      }
    };
    loop.callLater(2, tick);
    await loop.runUntilComplete(
      (async () => {
        for (let i = 0; i < 20; i++) expect((await loop.sockRecv(b, 1)).toString()).toBe('m');
      })(),
    );
    expect(registered).toBe(1);
    // Nobody waits any more: the next iteration drops the registration, and run() then ends.
    await loop.run();
    expect(sel.getMap().size).toBe(0);
  });
  test('a socket whose reader is still registered tries first too: data already there needs no loop iteration', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    const buf = Buffer.alloc(64);
    loop.callLater(2, () => a.send(Buffer.from('one')));
    expect(await loop.runUntilComplete(loop.sockRecvInto(b, buf))).toBe(3); // waited, then a short read
    expect(loop.selector.getMap().has(b.fd)).toBe(true); // the registration is kept for a while
    a.send(Buffer.from('two'));
    waitReadable(b);
    const selectsBefore = loop.selector.selects;
    expect(await loop.sockRecvInto(b, buf)).toBe(3); // resolved without running the loop
    expect(buf.subarray(0, 3).toString()).toBe('two');
    expect(loop.selector.selects).toBe(selectsBefore);
  });

  test('a full read keeps trying first: more may be queued behind it', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    const buf = Buffer.alloc(4);
    loop.callLater(2, () => a.send(Buffer.from('abcdefgh')));
    expect(await loop.runUntilComplete(loop.sockRecvInto(b, buf))).toBe(4);
    const selectsBefore = loop.selector.selects;
    expect(await loop.sockRecvInto(b, buf)).toBe(4); // resolved without running the loop
    expect(buf.toString()).toBe('efgh');
    expect(loop.selector.selects).toBe(selectsBefore);
  });
});

describe.each(backends)('%s loop, batched path', (backend) => {
  test('a read of data already there comes with the next iteration; its registration is kept, then dropped once idle', async () => {
    const loop = openTestLoop(backend);
    const [a, b] = connectedPair('tcp4');
    a.send(Buffer.from('ready and waiting'));
    waitReadable(b);
    const p1 = loop.sockRecv(b, 5);
    expect(loop.selector.getKey(b).events).toBe(EVENT_READ); // registered at once
    expect((await loop.runUntilComplete(p1)).toString()).toBe('ready'); // no more than asked
    const selects = loop.selector.selects;
    const buf = Buffer.alloc(64);
    expect(await loop.runUntilComplete(loop.sockRecvInto(b, buf))).toBe(12);
    expect(buf.subarray(0, 12).toString()).toBe(' and waiting');
    expect(loop.selector.selects - selects).toBeLessThanOrEqual(2);
    await loop.runUntilComplete(new Promise<void>((resolve) => loop.callLater(5, resolve)));
    expect(loop.selector.getMap().size).toBe(0);
  });

  test('bytes the loop read for a read cancelled in the same iteration are kept for the next read', async () => {
    const loop = openTestLoop(backend);
    const [a, b] = connectedPair('socketpair');
    const ac = new AbortController();
    const cancelled = loop.sockRecv(b, 16, { signal: ac.signal }).then(
      () => 'resolved',
      (e: unknown) => (e as { code?: string }).code,
    );
    a.send(Buffer.from('keep me'));
    // Runs in the ready phase of the iteration whose native call reads 'keep me': after the read,
    // before its delivery, so the waiter is gone when the bytes arrive.
    loop.callSoon(() => ac.abort());
    expect(await loop.runUntilComplete(cancelled)).toBe('ABORT_ERR');
    expect((await loop.runUntilComplete(loop.sockRecv(b, 4))).toString()).toBe('keep');
    expect((await loop.runUntilComplete(loop.sockRecv(b, 16))).toString()).toBe(' me');
  });

  test('EOF and a reset come through the batched read as 0 and ECONNRESET', async () => {
    const loop = openTestLoop(backend);
    const [a, b] = connectedPair('socketpair');
    a.close();
    expect(await loop.runUntilComplete(loop.sockRecvInto(b, Buffer.alloc(4)))).toBe(0);
    const [c, d] = connectedPair('tcp4');
    d.send(Buffer.from('unread')); // closing c with unread bytes makes the kernel send RST
    waitReadable(c);
    c.close();
    const err = await loop.runUntilComplete(
      loop.sockRecv(d, 4).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    expect((err as { code?: string } | null)?.code).toBe('ECONNRESET');
  });
});
