// Closing what is registered (DESIGN §6.1): a Socket registered and then closed without
// unregistering is unregistered by its close, so its fd number is not poisoned; unregister() of a
// closed file object finds the key by the object itself when fileno() throws or returns -1.
import { cleanup } from '../helpers/resources.js';
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import { Socket, socketpair } from '../../src/socket.js';
import {
  EVENT_READ,
  closeFd,
  expectError,
  expectNothingReady,
  expectReady,
  openSelector,
  pipe,
  writeBytes,
} from '../helpers/fds.js';

const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.close();
  sockets.clear();
  await cleanup();
});

function pair(): [Socket, Socket] {
  const [a, b] = socketpair();
  sockets.add(a);
  sockets.add(b);
  return [a, b];
}

/** A socketpair whose first socket has fd `n`, a number just freed (lower holes are filled). */
function pairWithFd(n: number): [Socket, Socket] {
  for (let tries = 0; tries < 32; tries++) {
    const [a, b] = pair();
    if (a.fd === n) return [a, b];
    if (b.fd === n) b.close();
  }
  throw new Error(`could not reopen fd ${n}`);
}

describe.each(availableBackends())('%s selector: a Socket closed while registered', (backend) => {
  test('§6.1 closing it unregisters it: the key is gone, and unregister(sock) afterwards returns that key once', () => {
    const sel = openSelector(backend);
    const [a] = pair();
    const fd = a.fd;
    const key = sel.register(a, EVENT_READ, 'a');
    a.close();
    expect(sel.getMap().has(fd)).toBe(false);
    expect(sel.unregister(a)).toBe(key);
    expectError(() => sel.unregister(a), Error, 'ERR_FD_NOT_REGISTERED');
  });

  test('§6.1 a new socket with the same fd number registers and reports only its own readiness', () => {
    const sel = openSelector(backend);
    const [a, aPeer] = pair();
    const fd = a.fd;
    sel.register(a, EVENT_READ);
    writeBytes(aPeer.fd); // the old socket was readable when it was closed
    a.close();
    aPeer.close();
    const [b, bPeer] = pairWithFd(fd);
    sel.register(b, EVENT_READ, 'b');
    expectNothingReady(sel);
    writeBytes(bPeer.fd);
    expectReady(sel, 0, [[fd, EVENT_READ]]);
  });

  test('§6.1 a file object whose fileno() throws once closed is found by identity: unregister succeeds, the number is free', () => {
    const sel = openSelector(backend);
    const [r, w] = pipe();
    let open = true;
    const file = {
      fileno: () => {
        if (!open) throw new Error('closed');
        return r;
      },
    };
    const key = sel.register(file, EVENT_READ);
    closeFd(r);
    closeFd(w);
    open = false;
    expect(sel.unregister(file)).toBe(key);
    expect(sel.getMap().size).toBe(0);
    const [r2, w2] = pipe();
    expect(r2).toBe(r);
    sel.register(r2, EVENT_READ);
    writeBytes(w2);
    expectReady(sel, 0, [[r2, EVENT_READ]]);
  });

  test('§6.1 a file object whose fileno() returns -1 once closed is found by identity', () => {
    const sel = openSelector(backend);
    const [r] = pipe();
    let fd = r;
    const file = { fileno: () => fd };
    const key = sel.register(file, EVENT_READ);
    closeFd(r);
    fd = -1;
    expect(sel.modify(file, EVENT_READ, 'x').data).toBe('x');
    expect(sel.getKey(file).fd).toBe(r);
    expect(sel.unregister(file).fd).toBe(key.fd);
    expect(sel.getMap().size).toBe(0);
  });

  test('§6.1 a closed object that was never registered is ERR_FD_NOT_REGISTERED', () => {
    const sel = openSelector(backend);
    const [a] = pair();
    a.close();
    expectError(() => sel.unregister(a), Error, 'ERR_FD_NOT_REGISTERED');
  });

  test('§6.1 unregistering before the close leaves nothing for the close to do', () => {
    const sel = openSelector(backend);
    const [a] = pair();
    sel.register(a, EVENT_READ);
    sel.unregister(a);
    a.close();
    expectError(() => sel.unregister(a), Error, 'ERR_FD_NOT_REGISTERED');
  });
});
