// Node-embedded mode (DESIGN §3, §6.2; issue 12): attach() lets Node's own event loop drive the
// Loop on every backend (select and poll through a native wait thread), so Node timers, promises,
// fs and http and iomux callbacks all make progress in one ordinary Node program, with the owned
// mode's API and readiness semantics. No assertion here bounds a duration: every wait is
// event-driven, with a generous overall timeout that only a lost event reaches.
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Loop, type ExceptionContext } from '../../src/loop.js';
import { EpollSelector, type BackendName } from '../../src/selectors.js';
import { Socket, socketpair } from '../../src/socket.js';
import type { Protocol, Server, Transport } from '../../src/transports.js';
import { closeFd, drain, fill, pipe, writeBytes } from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';
import { attachable } from './helpers.js';

const loops: Loop[] = [];
const closers: Array<() => void> = [];
function attachedLoop(backend: BackendName): Loop {
  const loop = new Loop({ backend });
  loops.push(loop);
  loop.attach();
  return loop;
}

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  for (const loop of loops.splice(0)) loop.close();
  await cleanup();
});

/** Resolves once cond() holds, checking on Node's own loop; rejects after a generous `ms`. */
const until = (cond: () => boolean, ms = 5000): Promise<void> =>
  new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('condition not met in time'));
      else setTimeout(poll, 1);
    };
    poll();
  });

class Echo implements Protocol {
  #t!: Transport;
  connectionMade(t: Transport): void {
    this.#t = t;
  }
  dataReceived(data: Buffer): void {
    this.#t.write(data);
  }
}

/** An iomux echo server on the loop and a Node client echoing `rounds` messages through it. */
async function echoTraffic(loop: Loop, rounds: number): Promise<{ done: Promise<number>; server: Server }> {
  const server = await loop.createServer(() => new Echo(), { host: '127.0.0.1', port: 0 });
  closers.push(() => server.close());
  const done = new Promise<number>((resolve, reject) => {
    const client = net.connect((server.address as { port: number }).port, '127.0.0.1');
    closers.push(() => client.destroy());
    let echoed = 0;
    let pending = '';
    client.setEncoding('utf8');
    client.on('connect', () => client.write('m0\n'));
    client.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        if (pending.slice(0, nl) !== `m${echoed}`) reject(new Error(`echo mismatch: ${pending.slice(0, nl)}`));
        pending = pending.slice(nl + 1);
        echoed++;
        if (echoed === rounds) {
          client.end();
          resolve(echoed);
        } else {
          client.write(`m${echoed}\n`);
        }
      }
    });
    client.on('error', reject);
  });
  return { done, server };
}

describe.each(attachable)('%s loop attached to Node', (backend) => {
  it('delivers readiness while Node timers keep running', async () => {
    const loop = attachedLoop(backend);
    const [r, w] = pipe();
    const seen: string[] = [];
    loop.addReader(r, () => {
      drain(r);
      seen.push('iomux read');
      loop.removeReader(r);
    });
    setTimeout(() => {
      seen.push('node timer');
      writeBytes(w, 'x');
    }, 10);
    await until(() => seen.length === 2);
    expect(seen).toEqual(['node timer', 'iomux read']);
  });

  it('delivers each readiness change to its callback, level-triggered, and nothing after removal', async () => {
    const loop = attachedLoop(backend);
    const [r, w] = pipe();
    let reads = 0;
    loop.addReader(r, () => {
      reads++;
      drain(r);
    });
    for (let i = 1; i <= 20; i++) {
      writeBytes(w, 'x');
      await until(() => reads === i);
    }
    loop.removeReader(r);
    writeBytes(w, 'y');
    await sleep(20);
    expect(reads).toBe(20);
  });

  it('runs writers while there is room, and stops once the pipe is full', async () => {
    const loop = attachedLoop(backend);
    const [r, w] = pipe();
    let writable = 0;
    loop.addWriter(w, () => {
      writable++;
      fill(w);
    });
    await until(() => writable >= 1);
    const after = writable;
    await sleep(20);
    expect(writable).toBe(after); // full: not writable, so not called again
    drain(r);
    await until(() => writable > after);
    loop.removeWriter(w);
  });

  it('runs callSoon and callLater callbacks queued from Node code, in order', async () => {
    const loop = attachedLoop(backend);
    const order: string[] = [];
    const t0 = performance.now();
    let firedAt = 0;
    loop.callLater(30, () => {
      firedAt = performance.now() - t0;
      order.push('later');
    });
    loop.callSoon(() => order.push('soon'));
    await until(() => order.length === 2);
    expect(order).toEqual(['soon', 'later']);
    expect(firedAt).toBeGreaterThanOrEqual(29);
  });

  it('lets promise continuations from callbacks run without any run() call', async () => {
    const loop = attachedLoop(backend);
    const value = await new Promise<string>((resolve) => loop.callSoon(() => resolve('resolved by a loop callback')));
    expect(value).toBe('resolved by a loop callback');
  });

  it('Node setTimeout, fs.promises.readFile and an http round trip complete while iomux serves echo traffic', async () => {
    const loop = attachedLoop(backend);
    const { done } = await echoTraffic(loop, 300);
    const web = http.createServer((_req, res) => res.end('hello from node'));
    closers.push(() => web.close());
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const port = (web.address() as net.AddressInfo).port;
    const [timer, file, body] = await Promise.all([
      new Promise<string>((resolve) => setTimeout(() => resolve('timer'), 5)),
      readFile(fileURLToPath(import.meta.url), 'utf8'),
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, agent: false }, (res) => {
            let text = '';
            res
              .setEncoding('utf8')
              .on('data', (s: string) => {
                text += s;
              })
              .on('end', () => resolve(text));
          })
          .on('error', reject);
      }),
    ]);
    expect(timer).toBe('timer');
    expect(file).toContain('fs.promises.readFile');
    expect(body).toBe('hello from node');
    expect(await done).toBe(300);
  });

  it('serves aio (sockAccept/sockRecv/sockSendAll) from inside Node', async () => {
    const loop = attachedLoop(backend);
    const listener = Socket.tcp();
    closers.push(() => listener.close());
    listener.bind({ host: '127.0.0.1', port: 0 });
    listener.listen(8);
    const served = (async () => {
      const conn = await loop.sockAccept(listener);
      const data = await loop.sockRecv(conn, 64);
      await loop.sockSendAll(conn, Buffer.concat([Buffer.from('echo:'), data]));
      conn.close();
    })();
    const reply = await new Promise<string>((resolve, reject) => {
      const client = net.connect((listener.localAddress as { port: number }).port, '127.0.0.1', () =>
        client.write('hi'),
      );
      closers.push(() => client.destroy());
      let text = '';
      client
        .setEncoding('utf8')
        .on('data', (s: string) => {
          text += s;
        })
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    await served;
    expect(reply).toBe('echo:hi');
  });

  it('runs a signal handler as a loop callback', async () => {
    const loop = attachedLoop(backend);
    let handled = 0;
    loop.addSignalHandler('SIGUSR2', () => {
      handled++;
    });
    closers.push(() => {
      if (!loop.closed) loop.removeSignalHandler('SIGUSR2');
    });
    process.kill(process.pid, 'SIGUSR2');
    await until(() => handled === 1);
    expect(handled).toBe(1);
  });

  it('hands a throwing callback to the exception handler, and Node and the loop keep running', async () => {
    const loop = attachedLoop(backend);
    const caught: Array<[unknown, ExceptionContext]> = [];
    loop.setExceptionHandler((err, ctx) => void caught.push([err, ctx]));
    const [a, b] = socketpair();
    closers.push(() => {
      a.close();
      b.close();
    });
    let after = 0;
    loop.addReader(a, () => {
      a.recvInto(Buffer.alloc(16));
      throw new Error('boom');
    });
    loop.callSoon(() => {
      throw new Error('soon boom');
    });
    b.send(Buffer.from('x'));
    await until(() => caught.length === 2);
    loop.removeReader(a);
    loop.callLater(1, () => {
      after++;
    });
    await sleep(1); // Node's own timers still run
    await until(() => after === 1);
    expect(caught.map(([err]) => (err as Error).message).sort()).toEqual(['boom', 'soon boom']);
    expect(caught.find(([err]) => (err as Error).message === 'boom')![1].fd).toBe(a.fileno());
    expect(loop.isAttached()).toBe(true);
  });

  // libuv checks the fd with epoll_ctl on Linux, which refuses regular files (epoll_ctl(2): EPERM).
  it.runIf(process.platform === 'linux' && backend === 'epoll')(
    'reports a selector fd libuv cannot watch as a system error, and stays usable',
    async () => {
      const file = openSync(fileURLToPath(import.meta.url), 'r');
      try {
        class Unwatchable extends EpollSelector {
          override fileno(): number {
            return file;
          }
        }
        const loop = new Loop({ selector: new Unwatchable() });
        loops.push(loop);
        expect(() => loop.attach()).toThrow(
          expect.objectContaining({ code: 'EPERM', errno: -constants.errno.EPERM, syscall: 'uv_poll_init' }),
        );
        expect(loop.isAttached()).toBe(false);
        let ran = false;
        loop.callSoon(() => {
          ran = true;
        });
        await loop.run();
        expect(ran).toBe(true);
      } finally {
        closeSync(file);
      }
    },
  );

  it('refuses run() while attached, and allows it again after detach()', async () => {
    const loop = attachedLoop(backend);
    await expect(loop.run()).rejects.toMatchObject({ code: 'ERR_LOOP_RUNNING' });
    loop.detach();
    loop.detach(); // twice is fine
    let ran = false;
    loop.callSoon(() => {
      ran = true;
    });
    await loop.run();
    expect(ran).toBe(true);
  });

  it('keeps the readers it had across detach(), run() and attach() again', async () => {
    const loop = attachedLoop(backend);
    const [r, w] = pipe();
    let reads = 0;
    loop.addReader(r, () => {
      reads++;
      drain(r);
      if (!loop.isAttached()) loop.stop();
    });
    writeBytes(w);
    await until(() => reads === 1);
    loop.detach();
    writeBytes(w);
    await loop.run(); // owned mode: the same registration, stopped by the reader
    expect(reads).toBe(2);
    loop.attach();
    writeBytes(w);
    await until(() => reads === 3);
    loop.removeReader(r);
  });

  it('stop() detaches: nothing more is delivered, and run() may be used again', async () => {
    const loop = attachedLoop(backend);
    const [r, w] = pipe();
    let calls = 0;
    loop.addReader(r, () => {
      calls++;
      drain(r);
      if (calls === 1) loop.stop();
    });
    writeBytes(w, 'x');
    await until(() => !loop.isAttached());
    expect(calls).toBe(1);
    writeBytes(w, 'y');
    await sleep(20);
    expect(calls).toBe(1);
    loop.removeReader(r);
    let ran = false;
    loop.callSoon(() => {
      ran = true;
    });
    await loop.run();
    expect(ran).toBe(true);
  });

  it('stops delivering after detach(), and close() detaches', async () => {
    const loop = attachedLoop(backend);
    const [r, w] = pipe();
    let calls = 0;
    loop.addReader(r, () => {
      calls++;
      drain(r);
    });
    loop.detach();
    writeBytes(w, 'x');
    await sleep(30);
    expect(calls).toBe(0);
    loop.attach();
    await until(() => calls === 1);
    loop.removeReader(r);
    closeFd(r);
    loop.close();
    expect(loop.isAttached()).toBe(false);
  });
});
