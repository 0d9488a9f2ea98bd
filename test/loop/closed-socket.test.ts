// Closing what is registered (DESIGN §6.1), on a Loop: a Socket given to addReader/addWriter and
// then closed is removed from the loop by its close, so a new socket with the same fd number
// gets a reader that fires, on every backend (epoll once lost these events silently).
import { cleanup } from '../helpers/resources.js';
import { afterEach, describe, expect, test } from 'vitest';
import { Socket, socketpair } from '../../src/socket.js';
import { writeBytes } from '../helpers/fds.js';
import { backends, openLoop } from './helpers.js';

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

function pairWithFd(n: number): [Socket, Socket] {
  for (let tries = 0; tries < 32; tries++) {
    const [a, b] = pair();
    if (a.fd === n) return [a, b];
    if (b.fd === n) b.close();
  }
  throw new Error(`could not reopen fd ${n}`);
}

describe.each(backends)('%s loop: a Socket closed while watched', (backend) => {
  test('§6.1 addReader(sock), sock.close(), then a new socket with the same fd: its reader fires', async () => {
    const loop = openLoop(backend);
    const [a, aPeer] = pair();
    const fd = a.fd;
    let oldCalls = 0;
    loop.addReader(a, () => {
      oldCalls++;
    });
    loop.addWriter(a, () => {
      oldCalls++;
    });
    a.close();
    aPeer.close();
    const [b, bPeer] = pairWithFd(fd);
    let fired = 0;
    loop.addReader(b, () => {
      fired++;
      b.recv(16);
      loop.removeReader(b);
    });
    writeBytes(bPeer.fd);
    await loop.run();
    expect(fired).toBe(1);
    expect(oldCalls).toBe(0);
  });

  test('§6.1 removeReader/removeWriter of a Socket closed while watched return false, and nothing is left to keep run() alive', async () => {
    const loop = openLoop(backend);
    const [a] = pair();
    loop.addReader(a, () => {});
    loop.addWriter(a, () => {});
    a.close();
    expect(loop.removeReader(a)).toBe(false);
    expect(loop.removeWriter(a)).toBe(false);
    await loop.run(); // ends at once: no reader or writer is left
  });

  test('§6.1 a file object whose fileno() throws once closed is removed by identity', async () => {
    const loop = openLoop(backend);
    const [a] = pair();
    let open = true;
    const file = {
      fileno: () => {
        if (!open) throw new Error('closed');
        return a.fd;
      },
    };
    loop.addReader(file, () => {});
    open = false;
    expect(loop.removeReader(file)).toBe(true);
    expect(loop.removeReader(file)).toBe(false);
    await loop.run();
  });
});
