// Limits and bad clients (issue #4, item 4), in every style: --max-conns refuses the surplus and
// nobody else; running out of fds (EMFILE) neither spins nor kills the server, which recovers;
// --idle-timeout closes silent clients only; a client that sends without reading gets
// backpressure instead of growing the server's memory.
import type net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closedByServer, connect, cpuMs, ensureBuilt, roundTrip, rssMiB, startEcho } from '../helpers/cli.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';
import { STYLES } from '../../src/echo/options.js';

beforeAll(ensureBuilt, 150_000);
afterEach(cleanup);

/**
 * True if the server echoes within `ms` (a queued, not yet accepted connection does not). An
 * earlier unanswered ping may come back with this one.
 */
async function served(sock: net.Socket, ms: number): Promise<boolean> {
  try {
    return /^(ping)+$/.test((await roundTrip(sock, 'ping', ms)).toString());
  } catch {
    return false;
  }
}

describe.each(STYLES)('style %s', (style) => {
  it('--max-conns 2: the third connection is closed, the first two still echo', async () => {
    const { proc, port } = await startEcho(['--style', style, '--max-conns', '2']);
    const a = await connect({ port });
    const b = await connect({ port });
    expect(await served(a, 2000)).toBe(true);
    expect(await served(b, 2000)).toBe(true);
    const c = await connect({ port });
    await closedByServer(c, 2000);
    expect(await served(a, 2000)).toBe(true);
    expect(await served(b, 2000)).toBe(true);
    // A freed slot is usable again.
    a.destroy();
    await sleep(100);
    const d = await connect({ port });
    expect(await served(d, 2000)).toBe(true);
    expect(await served(b, 2000)).toBe(true);
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
  });

  it('--idle-timeout closes a silent connection after about the timeout, not an active one', async () => {
    const idleMs = 300;
    const { proc, port } = await startEcho(['--style', style, '--idle-timeout', String(idleMs)]);
    const silent = await connect({ port });
    const active = await connect({ port });
    expect(await served(silent, 2000)).toBe(true);
    const closed = closedByServer(silent, 3000);
    let activeClosed = false;
    active.once('close', () => {
      activeClosed = true;
    });
    // The active one talks every 50 ms, for two idle periods and more.
    for (let t = 0; t < 2 * idleMs + 100; t += 50) {
      expect(await served(active, 1000)).toBe(true);
      await sleep(50);
    }
    const after = await closed;
    // Closed between idle and idle + 2 sweep periods (idle/8 each) after its last byte.
    expect(after).toBeGreaterThanOrEqual(idleMs - 50);
    expect(after).toBeLessThan(idleMs + 2 * (idleMs / 8) + 300);
    expect(activeClosed).toBe(false);
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
  });

  it('--idle-timeout spares a client that is slowly reading a large echo back (issue 9, bug 9)', async () => {
    const { proc, port } = await startEcho(['--style', style, '--idle-timeout', '1000']);
    const c = await connect({ port });
    let got = 0;
    let ticks = 0;
    const outcome = new Promise<string>((resolve) => {
      c.once('close', () => resolve(`closed by the server after ${got} bytes, ${ticks} reads`));
      c.on('error', () => {});
      // 60 reads of at most 64 KiB, one per 100 ms: bytes keep moving for 6 s, six idle
      // timeouts, while the server waits on a send buffer several MiB deep.
      const timer = setInterval(() => {
        for (let taken = 0, chunk: Buffer | null; taken < 64 * 1024 && (chunk = c.read() as Buffer | null) !== null;) {
          taken += chunk.length;
          got += chunk.length;
        }
        if (++ticks < 60) return;
        clearInterval(timer);
        resolve('alive');
      }, 100);
      c.once('close', () => clearInterval(timer));
    });
    c.pause();
    c.write(Buffer.alloc(16 * 1024 * 1024, 3));
    expect(await outcome).toBe('alive');
    expect(got).toBeGreaterThan(1024 * 1024);
    c.destroy();
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit(10_000)).code).toBe(0);
  }, 60_000);

  it('a client that sends 64 MiB without reading is pushed back; server memory stays bounded', async () => {
    const { proc, port } = await startEcho(['--style', style]);
    const rssBefore = rssMiB(proc.pid);
    const c = await connect({ port });
    c.pause();
    const chunk = Buffer.alloc(1024 * 1024, 'z');
    const target = 64 * 1024 * 1024;
    let offered = 0;
    let stalled = false;
    while (offered < target) {
      offered += chunk.length;
      if (c.write(chunk)) continue;
      stalled = !(await Promise.race([
        new Promise<boolean>((resolve) => c.once('drain', () => resolve(true))),
        sleep(500).then(() => false),
      ]));
      if (stalled) break;
    }
    const taken = c.bytesWritten - c.writableLength;
    const rssAfter = rssMiB(proc.pid);
    expect(stalled, "the client's writes block").toBe(true);
    // Both kernels' socket buffers hold a few MiB each; the server holds at most a chunk or two.
    expect(taken).toBeLessThan(48 * 1024 * 1024);
    expect(rssAfter).toBeLessThan(150);
    expect(rssAfter - rssBefore).toBeLessThan(40);
    // The server is not stuck: others are served meanwhile.
    const other = await connect({ port });
    expect(await served(other, 2000)).toBe(true);
    c.destroy();
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
  });

  it('out of fds (EMFILE): waiting clients are served once fds free up, without spinning meanwhile', async () => {
    // Node itself holds about 23 fds; 40 leaves room for a dozen or so connections.
    const { proc, port } = await startEcho(['--style', style], { nofile: 40 });
    const clients: net.Socket[] = [];
    let waiting: net.Socket | null = null;
    for (let i = 0; i < 40 && waiting === null; i++) {
      const c = await connect({ port });
      if (await served(c, 400)) clients.push(c);
      else waiting = c; // accepted by the kernel, but the server cannot take it
    }
    expect(waiting, 'a connection the server could not accept').not.toBeNull();
    expect(clients.length).toBeGreaterThan(5);
    await proc.waitForLine(/accept failed \(EMFILE: too many open files, accept4\); pausing accepts/, {
      stream: 'stderr',
      ms: 2000,
    });

    // Stuck at the limit with a connection waiting: the listener stays readable, so a server
    // that kept polling it would burn a whole CPU. Allow a tenth of one.
    const cpuBefore = cpuMs(proc.pid);
    await sleep(600);
    expect(cpuMs(proc.pid) - cpuBefore).toBeLessThan(60);

    // Free some fds: the waiting client and new ones are served.
    for (const c of clients.splice(0, 3)) c.destroy();
    expect(await served(waiting!, 3000)).toBe(true);
    const fresh = await connect({ port });
    expect(await served(fresh, 3000)).toBe(true);
    for (const c of clients) expect(await served(c, 2000)).toBe(true);
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
  });

  it('select past FD_SETSIZE: surplus connections are turned away, counted as refused and logged once (issue 9, bug 12)', async () => {
    const { proc, port } = await startEcho(['--style', style, '--backend', 'select', '--stats']);
    const total = 1100; // the server holds ~25 fds of its own: about 100 land at or past 1024
    const clients: net.Socket[] = [];
    for (let i = 0; i < total; i++) clients.push(await connect({ port }, 10_000));
    // Every connection ends up served or refused; the stats line adds both up.
    const m = await (async () => {
      for (let after = 0; ;) {
        const line = await proc.waitForLine(/stats: (\d+) conns?, [^,]+, [^,]+(?:, (\d+) refused)?/, {
          stream: 'stderr',
          ms: 10_000,
          after,
        });
        after = proc.stderr.indexOf(line.input, after) + 1;
        if (Number(line[1]) + Number(line[2] ?? 0) === total) return line;
      }
    })();
    const refused = Number(m[2] ?? 0);
    expect(refused).toBeGreaterThan(0);
    const log = proc.stderr.join('\n');
    expect(log).not.toMatch(/Exception/);
    expect(proc.stderr.filter((l) => /turned away/.test(l)).length).toBe(1);
    // The served ones still echo.
    expect((await roundTrip(clients[0], 'still')).toString()).toBe('still');
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit(10_000)).code).toBe(0);
  }, 60_000);
});
