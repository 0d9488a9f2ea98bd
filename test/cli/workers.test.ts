// --workers N (issue #4, item 2): N processes share one port through SO_REUSEPORT under a
// supervising parent that restarts the dead ones, forwards SIGINT/SIGTERM and exits 0 once all
// of them stopped.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  ensureBuilt,
  expectRefused,
  isAlive,
  owedClient,
  roundTrip,
  startEcho,
  waitForDeath,
  type CliProcess,
} from '../helpers/cli.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

beforeAll(ensureBuilt, 150_000);
afterEach(cleanup);

const WORKER_LISTENING = /^iomux echo: worker (\d+) listening \(pid (\d+)\)$/;

/**
 * Worker id -> pid, from the parent's log (the latest pid per worker), once all `count` workers
 * said they listen (stderr can be read after the listening line on stdout).
 */
async function workerPids(proc: CliProcess, count: number): Promise<Map<number, number>> {
  for (let id = 1; id <= count; id++)
    await proc.waitForLine(new RegExp(`^iomux echo: worker ${id} listening`), { stream: 'stderr' });
  const pids = new Map<number, number>();
  for (const line of proc.stderr) {
    const m = WORKER_LISTENING.exec(line);
    if (m !== null) pids.set(Number(m[1]), Number(m[2]));
  }
  return pids;
}

/** `count` fresh connections, each echoing; new connections are spread over the workers. */
async function echoesOnFreshConnections(port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const c = await connect({ port });
    expect((await roundTrip(c, `hello ${i}`)).toString()).toBe(`hello ${i}`);
    c.destroy();
  }
}

describe('--workers', () => {
  it('2 workers on one port: a killed worker is replaced (and logged) while the port keeps answering; SIGTERM stops all, exit 0', async () => {
    const { proc, port, line } = await startEcho(['--workers', '2']);
    expect(line).toMatch(/ \(backend \w+, style protocol, 2 workers\)$/);
    const pids = await workerPids(proc, 2);
    expect([...pids.keys()].sort((a, b) => a - b)).toEqual([1, 2]);
    const [first, second] = [pids.get(1)!, pids.get(2)!];
    expect(first).not.toBe(second);
    expect(first).not.toBe(proc.pid);
    await echoesOnFreshConnections(port, 10);

    process.kill(first, 'SIGKILL');
    await proc.waitForLine(
      new RegExp(`^iomux echo: worker 1 \\(pid ${first}\\) was killed by SIGKILL; restarting it in \\d+ ms$`),
      { stream: 'stderr' },
    );
    // Worker 2 alone keeps the port answering meanwhile.
    await echoesOnFreshConnections(port, 10);
    const replaced = await proc.waitForLine(/^iomux echo: worker 1 listening \(pid (\d+)\)$/, {
      stream: 'stderr',
      after: proc.stderr.findIndex((l) => l.includes(`pid ${first})`) && l.includes('killed')),
    });
    const replacement = Number(replaced[1]);
    expect(replacement).not.toBe(first);
    expect(isAlive(replacement)).toBe(true);
    await echoesOnFreshConnections(port, 10);

    proc.child.kill('SIGTERM');
    expect(await proc.waitForExit(5000)).toEqual({ code: 0, signal: null });
    await waitForDeath(replacement, 1000);
    await waitForDeath(second, 1000);
    await expectRefused(port);
    expect(proc.stderr).toContain('iomux echo: all workers stopped');
  });

  it.each(['callback', 'async'])('style %s works under the supervisor too (SIGINT this time)', async (style) => {
    const { proc, port } = await startEcho(['--workers', '3', '--style', style]);
    expect((await workerPids(proc, 3)).size).toBe(3);
    await echoesOnFreshConnections(port, 6);
    proc.child.kill('SIGINT');
    expect(await proc.waitForExit(5000)).toEqual({ code: 0, signal: null });
    await expectRefused(port);
  });

  it('a signal to the supervisor more than a second after the first exits at once with 130, and the workers with it', async () => {
    const { proc, port } = await startEcho(['--workers', '2', '--grace', '20000']);
    const pids = [...(await workerPids(proc, 2)).values()];
    // A client that never reads holds its worker in the grace period.
    await owedClient({ port });
    proc.child.kill('SIGTERM');
    await proc.waitForLine(/^iomux echo: SIGTERM: stopping 2 workers$/, { stream: 'stderr' });
    await sleep(1200); // past the window in which copies of the first count as the same stop
    proc.child.kill('SIGTERM');
    expect(await proc.waitForExit(3000)).toEqual({ code: 130, signal: null });
    for (const pid of pids) await waitForDeath(pid, 3000);
  });

  it('a worker killed mid-traffic fails no new connection: the workers share one accept queue (issue 9, bug 6)', async () => {
    const { proc, port } = await startEcho(['--workers', '2']);
    const pids = [...(await workerPids(proc, 2)).values()];
    for (let round = 0; round < 3; round++) {
      // Connections made while a worker hangs and then dies (it accepts none of them): every
      // one is served by the other worker.
      const victim = pids[round % 2];
      process.kill(victim, 'SIGSTOP');
      setTimeout(() => process.kill(victim, 'SIGKILL'), 300);
      const attempts = Array.from({ length: 40 }, async (_, i) => {
        const c = await connect({ port }, 10_000);
        const back = (await roundTrip(c, `r${round} c${i}`, 10_000)).toString();
        c.destroy();
        return back === `r${round} c${i}` ? 'ok' : back;
      });
      const results = await Promise.allSettled(attempts);
      const failed = results.filter((r) => r.status === 'rejected' || r.value !== 'ok');
      expect(failed.map((r) => (r.status === 'rejected' ? String(r.reason) : r.value))).toEqual([]);
      const died = await proc.waitForLine(new RegExp(`^iomux echo: worker (\\d+) \\(pid ${victim}\\) was killed.*$`), {
        stream: 'stderr',
        ms: 10_000,
      });
      const restarted = await proc.waitForLine(
        new RegExp(`^iomux echo: worker ${died[1]} listening \\(pid (\\d+)\\)$`),
        { stream: 'stderr', after: proc.stderr.indexOf(died[0]), ms: 10_000 },
      );
      pids[round % 2] = Number(restarted[1]);
    }
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit(10_000)).code).toBe(0);
  }, 60_000);

  it('workers stop by themselves when the supervisor dies (even by SIGKILL)', async () => {
    const { proc, port } = await startEcho(['--workers', '2']);
    const pids = [...(await workerPids(proc, 2)).values()];
    proc.child.kill('SIGKILL');
    for (const pid of pids) await waitForDeath(pid, 4000);
    await expectRefused(port);
  });

  it('a worker that keeps dying is restarted after a growing back-off', async () => {
    const { proc, port } = await startEcho(['--workers', '2']);
    let pid = (await workerPids(proc, 2)).get(1)!;
    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      process.kill(pid, 'SIGKILL');
      const died = await proc.waitForLine(
        new RegExp(`^iomux echo: worker 1 \\(pid ${pid}\\) was killed by SIGKILL; restarting it in (\\d+) ms$`),
        { stream: 'stderr' },
      );
      delays.push(Number(died[1]));
      const at = proc.stderr.findIndex((l) => l === died[0]);
      pid = Number(
        (await proc.waitForLine(/^iomux echo: worker 1 listening \(pid (\d+)\)$/, { stream: 'stderr', after: at }))[1],
      );
    }
    expect(delays).toEqual([100, 200, 400]);
    await echoesOnFreshConnections(port, 4);
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit(5000)).code).toBe(0);
  });

  it('--stats from the supervisor adds up the workers', async () => {
    const { proc, port } = await startEcho(['--workers', '2', '--stats']);
    const c = await connect({ port });
    for (let i = 0; i < 20; i++) await roundTrip(c, 'x');
    await proc.waitForLine(/^iomux echo: stats: 1 conn, \d+ msgs\/s, [\d.]+ (B|KiB|MiB)\/s$/, {
      stream: 'stderr',
      ms: 4000,
    });
  });
});
