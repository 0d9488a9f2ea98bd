// bench/echo/servers.ts, the running half: the listening line a server is ready on, CPU time from
// /proc/PID/stat, and RunningServer's start/stop. Stand-in servers are sh scripts that print a
// listening line without listening, then sleep; the real Node net, C, uvloop and gevent servers
// echo over loopback (the last two only where their module is installed).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import {
  RunningServer,
  parseListeningPort,
  readCpuTimes,
  serverSpecs,
  type ServerSpec,
} from '../../bench/echo/servers.js';
import { discoverEnv, type BenchEnv } from '../../bench/report/env.js';
import { sleep } from '../helpers/sleep.js';

const realEnv = discoverEnv();
const env: BenchEnv = { ...realEnv, taskset: { path: null, missing: 'not pinned in tests' } };
const servers: RunningServer[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.killNow();
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const fake = (sh: string): ServerSpec => ({
  id: 'fake',
  kind: 'c',
  command: ['/bin/sh', ['-c', `${sh}; exec sleep 60`]],
});
async function start(spec: ServerSpec, e = env): Promise<RunningServer> {
  const s = await RunningServer.start(spec, e);
  servers.push(s);
  return s;
}

describe('parseListeningPort', () => {
  test.each([
    ['listening 40123', 40123],
    ['iomux echo listening on 127.0.0.1:40123 (backend epoll, style callback, 1 worker)', 40123],
    ['iomux echo listening on [::1]:7007 (backend poll, style async, 2 workers)', 7007],
    ['listening 0', 0],
    ['iomux echo listening on /tmp/echo.sock (backend epoll, style callback, 1 worker)', null],
    ['listening 123abc', null],
    ['starting up', null],
  ])('%j -> %s', (line, port) => {
    expect(parseListeningPort(line)).toBe(port);
  });
});

describe('readCpuTimes', () => {
  test('counts the user time this process spends, in clock ticks', () => {
    const before = readCpuTimes(process.pid)!;
    // Burn 200 ms of user CPU, not of wall time: on a loaded machine 200 ms of wall time can
    // hold far less CPU time than the assertion needs.
    const start = process.cpuUsage();
    while (process.cpuUsage(start).user < 200_000) {
      /* burn user CPU */
    }
    const after = readCpuTimes(process.pid)!;
    expect(Number.isInteger(after.stime)).toBe(true);
    expect((after.utime - before.utime) / env.clkTck).toBeGreaterThan(0.08);
  });

  test('finds the fields after a command name holding spaces and parentheses', async () => {
    // The child names itself through /proc/self/comm: the executable's name is not a reliable
    // source, since Node 24 renames its main thread "MainThread" at start-up.
    const child = spawn(
      process.execPath,
      [
        '-e',
        [
          'require("fs").writeFileSync("/proc/self/comm", "a) b (c");',
          // CPU time, not wall time: on a loaded machine a wall-clock spin may get little of it.
          'while (process.cpuUsage().user < 300000); console.log("busy"); setInterval(() => {}, 1000)',
        ].join('\n'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    await once(child.stdout, 'data');
    expect(readFileSync(`/proc/${child.pid}/comm`, 'utf8')).toBe('a) b (c\n');
    const t = readCpuTimes(child.pid!)!;
    // Counted from the wrong field, these would be fault counts (0) or garbage (NaN).
    expect((t.utime + t.stime) / env.clkTck).toBeGreaterThan(0.1);
  });

  test('is null for a process that does not exist', () => {
    expect(readCpuTimes(2 ** 22 + 12345)).toBeNull();
  });
});

describe('RunningServer', () => {
  test('is ready on its listening line, alive and readable until stopped', async () => {
    const s = await start(fake('echo "warming up"; echo "listening 4242"'));
    expect([s.port, s.alive, s.pid > 0]).toEqual([4242, true, true]);
    expect(s.cpuTimes()).not.toBeNull();
    await s.stop();
    expect(s.alive).toBe(false);
    expect(s.cpuTimes()).toBeNull();
    await s.stop(); // stopping a stopped server is a no-op
  });

  test('reads the port from the iomux CLI\'s line too, and waits past a "listening 0"', async () => {
    const s = await start(fake('echo "listening 0"; sleep 0.05; echo "iomux echo listening on 127.0.0.1:40123 (x)"'));
    expect(s.port).toBe(40123);
  });

  test('a listening line split across two writes is read whole', async () => {
    const s = await start(fake('printf "listening 40"; sleep 0.1; echo 123'));
    expect(s.port).toBe(40123);
  });

  test('a server that exits before listening is a rejection quoting its stderr', async () => {
    await expect(start(fake('echo "echo: bind failed: EADDRINUSE" >&2; exit 3'))).rejects.toThrow(
      'fake: exited before listening (exit 3) (stderr: echo: bind failed: EADDRINUSE)',
    );
  });

  test('stderr written after the exit, before the streams close, is still quoted', async () => {
    // A child that outlives the server holds its stderr open: the exit event comes first, so a
    // rejection made on 'exit' would lose the line (the cause of a flaky quote under load).
    await expect(start(fake('(sleep 0.2; echo "late: bind failed" >&2) & exit 4'))).rejects.toThrow(
      'fake: exited before listening (exit 4) (stderr: late: bind failed)',
    );
  });

  test('a server without a program is a rejection with the reason', async () => {
    await expect(
      start({ id: 'python', kind: 'python', command: { missing: 'python3 not found on PATH' } }),
    ).rejects.toThrow('python3 not found on PATH');
  });

  test('keeps the tail of what the server says on stderr once running', async () => {
    const s = await start(fake('echo "listening 5000"; sleep 0.02; echo "accept failed: EMFILE" >&2'));
    for (const t0 = performance.now(); s.stderrTail === '' && performance.now() - t0 < 5000;) await sleep(10);
    expect(s.stderrTail).toBe('accept failed: EMFILE');
  });

  test.skipIf(realEnv.taskset.path === null || cpus().length < 2)(
    "pinned with taskset, the PID watched is the server's own",
    async () => {
      const s = await start(fake('echo "listening 4343"'), realEnv);
      expect(readCpuTimes(s.pid)).not.toBeNull();
      expect(readFileSync(`/proc/${s.pid}/comm`, 'utf8').trim()).not.toBe('taskset');
    },
  );
});

describe('the real servers echo over loopback', () => {
  const built: Record<string, boolean> = {
    'node-net': existsSync(join(env.root, 'dist', 'bench', 'echo', 'node-net-server.js')),
    c: env.echoRef.path !== null,
    // Skipped here when the module is missing, as the bench skips them.
    uvloop: env.uvloop.path !== null,
    gevent: env.gevent.path !== null,
  };

  for (const id of ['node-net', 'c', 'uvloop', 'gevent'])
    test.skipIf(!built[id])(`${id} answers with what it is sent`, async () => {
      const s = await start(serverSpecs(env).find((x) => x.id === id)!);
      const sock = connect({ host: '127.0.0.1', port: s.port });
      try {
        await once(sock, 'connect');
        sock.write('hello, echo');
        let got = '';
        while (got.length < 11) got += String((await once(sock, 'data'))[0]);
        expect(got).toBe('hello, echo');
      } finally {
        sock.destroy();
      }
      await s.stop();
      expect(s.alive).toBe(false);
    });

  // More than any socket buffer holds: the server must stop reading while its echo waits to be
  // sent, and lose nothing (what loadgen checks byte by byte in the bench).
  for (const id of ['uvloop', 'gevent'])
    test.skipIf(!built[id])(`${id} echoes 4 MiB sent at once, byte for byte`, async () => {
      const s = await start(serverSpecs(env).find((x) => x.id === id)!);
      const data = Buffer.alloc(4 << 20);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 13)) & 0xff;
      const sock = connect({ host: '127.0.0.1', port: s.port });
      try {
        await once(sock, 'connect');
        const chunks: Buffer[] = [];
        let got = 0;
        const all = new Promise<void>((resolve, reject) => {
          sock.on('data', (d: Buffer) => {
            chunks.push(d);
            got += d.length;
            if (got >= data.length) resolve();
          });
          sock.once('error', reject);
          sock.once('close', () => reject(new Error(`closed after ${got} bytes`)));
        });
        sock.write(data);
        await all;
        expect(Buffer.concat(chunks).equals(data)).toBe(true);
      } finally {
        sock.destroy();
      }
      await s.stop();
    });
});
