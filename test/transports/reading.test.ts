// Read flow control (src/transports.ts pauseReading/resumeReading; asyncio's ReadTransport): while
// reading is paused no dataReceived (and no eofReceived) arrives and the fd is not watched for
// reading; after resumeReading everything sent meanwhile arrives, in order. Both calls are
// idempotent and do nothing once the transport is closing.
import { afterEach, describe, expect, test } from 'vitest';
import { EVENT_READ } from '../../src/selectors.js';
import { Socket } from '../../src/socket.js';
import type { ConnectOptions } from '../../src/transports.js';
import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, connect, pattern, track, trackServer } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

describe.each(backends)('%s loop', (backend) => {
  async function setup(loop: ReturnType<typeof openLoop>) {
    let server!: Recorder;
    const srv = trackServer(await loop.createServer(() => (server = new Recorder()), { host: '127.0.0.1', port: 0 }));
    const client = track(Socket.tcp());
    await loop.runUntilComplete(loop.sockConnect(client, srv.address as { host: string; port: number }));
    await loop.runUntilComplete(sleep(5, loop));
    return { server, client };
  }

  test('no dataReceived while paused; everything sent meanwhile arrives after resumeReading, in order', async () => {
    const loop = openLoop(backend);
    const { server, client } = await setup(loop);
    const t = server.transport;
    t.pauseReading();
    expect(t.isReading()).toBe(false);
    expect(loop.selector.getMap().has(t.socket.fd)).toBe(false); // not watched at all
    const data = pattern(200_000, 4);
    await loop.runUntilComplete(loop.sockSendAll(client, data));
    await loop.runUntilComplete(sleep(50, loop));
    expect(server.received).toBe(0);
    expect(server.events).toEqual(['made']);
    t.resumeReading();
    expect(t.isReading()).toBe(true);
    expect(loop.selector.getKey(t.socket.fd).events & EVENT_READ).toBe(EVENT_READ);
    const deadline = loop.time() + 2000;
    while (server.received < data.length && loop.time() < deadline) await loop.runUntilComplete(sleep(5, loop));
    expect(server.data().equals(data)).toBe(true);
  });

  test('EOF is not reported while paused; after resume the data and then eofReceived arrive', async () => {
    const loop = openLoop(backend);
    const { server, client } = await setup(loop);
    server.transport.pauseReading();
    client.send(Buffer.from('then bye'));
    client.shutdown('write');
    await loop.runUntilComplete(sleep(30, loop));
    expect(server.events).toEqual(['made']);
    server.transport.resumeReading();
    expect(await loop.runUntilComplete(server.lost)).toBeNull();
    expect(server.events).toEqual(['made', 'data', 'eof', 'lost']);
    expect(server.data().toString()).toBe('then bye');
  });

  test('pauseReading and resumeReading are idempotent', async () => {
    const loop = openLoop(backend);
    const { server, client } = await setup(loop);
    const t = server.transport;
    t.pauseReading();
    t.pauseReading();
    client.send(Buffer.from('x'));
    await loop.runUntilComplete(sleep(20, loop));
    expect(server.received).toBe(0);
    t.resumeReading();
    t.resumeReading();
    await loop.runUntilComplete(sleep(20, loop));
    expect(server.received).toBe(1);
  });

  test('pausing from inside dataReceived stops delivery at once', async () => {
    const loop = openLoop(backend);
    let server!: Recorder;
    const srv = trackServer(
      await loop.createServer(() => (server = new Recorder({ onData: (_d, t) => t.pauseReading() })), {
        host: '127.0.0.1',
        port: 0,
      }),
    );
    const client = track(Socket.tcp());
    await loop.runUntilComplete(loop.sockConnect(client, srv.address as { host: string; port: number }));
    client.send(Buffer.from('first'));
    await loop.runUntilComplete(sleep(20, loop));
    expect(server.data().toString()).toBe('first');
    client.send(Buffer.from('second'));
    await loop.runUntilComplete(sleep(20, loop));
    expect(server.chunks).toHaveLength(1);
    server.transport.resumeReading();
    await loop.runUntilComplete(sleep(20, loop));
    expect(server.data().toString()).toBe('firstsecond');
  });

  test('pause/resume after close() change nothing (no re-registration of a closed fd)', async () => {
    const loop = openLoop(backend);
    const { server } = await setup(loop);
    const t = server.transport;
    const fd = t.socket.fd;
    t.close();
    t.resumeReading();
    t.pauseReading();
    t.resumeReading();
    expect(t.isReading()).toBe(false);
    expect(loop.selector.getMap().has(fd)).toBe(false);
    await loop.runUntilComplete(server.lost);
  });

  test('a client transport can pause and resume reading too', async () => {
    const loop = openLoop(backend);
    const srv = trackServer(
      await loop.createServer(() => new Recorder({ onMade: (t) => t.write('hello') }), { host: '127.0.0.1', port: 0 }),
    );
    const [t, client] = await loop.runUntilComplete(connect(loop, () => new Recorder(), srv.address as ConnectOptions));
    t.pauseReading();
    await loop.runUntilComplete(sleep(30, loop));
    expect(client.received).toBe(0);
    t.resumeReading();
    await loop.runUntilComplete(sleep(30, loop));
    expect(client.data().toString()).toBe('hello');
  });
});
