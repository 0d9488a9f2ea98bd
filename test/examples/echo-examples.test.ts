// The four echo examples (issue #3 item 5), each started on port 0 on every backend and driven by
// real clients: Node `net` sockets in a child process (an independent implementation) that echo
// random payloads and check every byte. Then each example is shut down the way it is meant to be,
// and the loop must end by itself (nothing left registered) with every fd given back.
// Each example file stays under 40 lines: they are meant to be read.
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startCallbackEcho } from '../../examples/echo-callbacks.js';
import { startProtocolEcho } from '../../examples/echo-protocol.js';
import { acceptForever, listen } from '../../examples/echo-async.js';
import { startStreamsEcho } from '../../examples/echo-streams.js';
import { startEchoAndWeb } from '../../examples/echo-embedded.js';
import http from 'node:http';
import { Loop as PlainLoop } from '../../src/loop.js';
import type { Loop } from '../../src/loop.js';
import { backends, openLoop } from '../loop/helpers.js';
import { ECHO_CLIENT, readOnLoop, rejectionOf, spawnNode, track } from '../helpers/net.js';
import { cleanup, openFdCount } from '../helpers/resources.js';

afterEach(cleanup);

beforeAll(async () => {
  // The first child process makes Node open fds it keeps (its SIGCHLD pipe): open them now, so the
  // fd counts below only see what the examples and their connections hold.
  spawnNode('');
  await cleanup();
});

interface Report {
  sessions: number;
  rounds: number;
  bytes: number;
  mismatches: number;
  errors: string[];
  timedOut: boolean;
}

type Load = { sessions: number; rounds: number; maxSize: number };

/** A running example: its port, and how to shut it down (returns what to await after run()). */
type Started = { port: number; shutdown: () => void; finished: () => Promise<void> };

/**
 * Starts the example, runs the client child against it, shuts the example down when the client
 * reports, and runs the loop until it ends by itself. Returns the client's report.
 */
async function drive(loop: Loop, started: Started, load: Load): Promise<Report> {
  const { stdout } = spawnNode(ECHO_CLIENT, [
    String(started.port),
    String(load.sessions),
    String(load.rounds),
    String(load.maxSize),
  ]);
  const report = readOnLoop(loop, stdout).then((out) => {
    started.shutdown();
    return JSON.parse(out.toString()) as Report;
  });
  await loop.run(); // ends only when the example left nothing registered
  await started.finished();
  return report;
}

function expectAllEchoed(report: Report, load: Load): void {
  expect(report.timedOut).toBe(false);
  expect(report.errors).toEqual([]);
  expect(report.mismatches).toBe(0);
  expect(report.rounds).toBe(load.sessions * load.rounds);
  expect(report.sessions).toBe(load.sessions);
  expect(report.bytes).toBeGreaterThanOrEqual(load.sessions * load.rounds);
}

const small: Load = { sessions: 20, rounds: 10, maxSize: 32 * 1024 };
const large: Load = { sessions: 8, rounds: 3, maxSize: 4 << 20 };

describe.each(backends)('%s loop', (backend) => {
  test('echo-callbacks.ts: 20 Node clients x 10 random ping-pongs (up to 32 KiB) come back intact; shuts down cleanly', async () => {
    // This example closes a connection whose send would block (its comment says so), so clients
    // keep one message in flight at a time, which loopback's buffers always take whole.
    const before = openFdCount();
    const loop = openLoop(backend, 20_000);
    const listener = track(startCallbackEcho(loop, 0));
    const report = await drive(
      loop,
      {
        port: (listener.localAddress as { port: number }).port,
        shutdown: () => {
          loop.removeReader(listener);
          listener.close();
        },
        finished: async () => {},
      },
      small,
    );
    expectAllEchoed(report, small);
    await cleanup();
    expect(openFdCount()).toBe(before);
  });

  test.each([
    ['small', small],
    ['large (up to 4 MiB per write)', large],
  ] as const)(
    'echo-protocol.ts: Node clients, %s random payloads, come back intact; server.close() and `closed` end it',
    async (_size, load) => {
      const before = openFdCount();
      const loop = openLoop(backend, 20_000);
      const server = await startProtocolEcho(loop, 0);
      const report = await drive(
        loop,
        {
          port: (server.address as { port: number }).port,
          shutdown: () => server.close(),
          finished: () => server.closed,
        },
        load,
      );
      expectAllEchoed(report, load);
      expect(server.connections.size).toBe(0);
      await cleanup();
      expect(openFdCount()).toBe(before);
    },
  );

  test.each([
    ['small', small],
    ['large (up to 4 MiB per write)', large],
  ] as const)(
    'echo-async.ts: Node clients, %s random payloads, come back intact; closing the listener ends acceptForever',
    async (_size, load) => {
      const before = openFdCount();
      const loop = openLoop(backend, 20_000);
      const listener = track(listen(0));
      const accepting = rejectionOf(acceptForever(loop, listener));
      const report = await drive(
        loop,
        {
          port: (listener.localAddress as { port: number }).port,
          shutdown: () => listener.close(), // rejects the pending sockAccept
          finished: async () => {
            expect((await accepting).code).toBe('ERR_SOCKET_CLOSED');
          },
        },
        load,
      );
      expectAllEchoed(report, load);
      await cleanup();
      expect(openFdCount()).toBe(before);
    },
  );
});

describe.each(backends)('%s loop: echo-streams.ts', (backend) => {
  test.each([
    ['small', small],
    ['large (up to 4 MiB per write)', large],
  ] as const)(
    'echo-streams.ts: Node clients, %s random payloads, come back intact; server.close() and `closed` end it',
    async (_size, load) => {
      const before = openFdCount();
      const loop = openLoop(backend, 20_000);
      const server = await startStreamsEcho(loop, 0);
      const report = await drive(
        loop,
        {
          port: (server.address as { port: number }).port,
          shutdown: () => server.close(),
          finished: () => server.closed,
        },
        load,
      );
      expectAllEchoed(report, load);
      expect(server.connections.size).toBe(0);
      await cleanup();
      expect(openFdCount()).toBe(before);
    },
  );
});

describe.each(backends)('%s loop attached to Node', (backend) => {
  test('echo-embedded.ts: Node clients echo through iomux while the Node http server in the same process answers', async () => {
    const before = openFdCount();
    const loop = new PlainLoop({ backend });
    try {
      const { echo, web, webPort } = await startEchoAndWeb(loop);
      const { stdout } = spawnNode(ECHO_CLIENT, [
        String((echo.address as { port: number }).port),
        String(small.sessions),
        String(small.rounds),
        String(small.maxSize),
      ]);
      const page = new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: webPort, agent: false }, (res) => {
            let text = '';
            res
              .setEncoding('utf8')
              .on('data', (s: string) => {
                text += s;
              })
              .on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      const report = JSON.parse((await readOnLoop(loop, stdout)).toString()) as Report;
      expect(await page).toMatch(/^echo connections: \d+\n$/);
      expectAllEchoed(report, small);
      echo.close();
      await echo.closed;
      await new Promise((resolve) => web.close(resolve));
      expect(loop.isAttached()).toBe(true);
    } finally {
      loop.close();
    }
    expect(openFdCount()).toBe(before);
  });
});

describe('the example files', () => {
  test.each(['echo-callbacks.ts', 'echo-protocol.ts', 'echo-async.ts', 'echo-embedded.ts', 'echo-streams.ts'])(
    '%s is under 40 lines',
    (name) => {
      const text = readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8');
      const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
      expect(lines).toBeLessThan(40);
    },
  );

  test.each(['echo-callbacks.ts', 'echo-protocol.ts', 'echo-async.ts', 'echo-embedded.ts', 'echo-streams.ts'])(
    '%s imports only the public API (and Node built-ins)',
    (name) => {
      const text = readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8');
      const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]).filter((m) => !m.startsWith('node:'));
      expect(imports).toEqual(['../src/index.js']);
    },
  );
});
