// The signals the echo server handles (issue 9, bugs 10 and 11): SIGINT, SIGTERM and SIGHUP ask
// for one graceful stop, however many copies arrive at once (a service manager signals every
// process of the unit, and the supervisor forwards its own copy to the workers); only a signal
// more than a second after the stop began means "exit now". SIGUSR1 prints a status line instead
// of opening Node's debugger port.
import type net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  ensureBuilt,
  expectRefused,
  owedClient,
  roundTrip,
  startEcho,
  type CliProcess,
} from '../helpers/cli.js';
import { cleanup } from '../helpers/resources.js';
import { STYLES } from '../../src/echo/options.js';

beforeAll(ensureBuilt, 150_000);
afterEach(cleanup);

const WORKER_LISTENING = /^iomux echo: worker (\d+) listening \(pid (\d+)\)$/;

async function workerPids(proc: CliProcess, count: number): Promise<number[]> {
  for (let id = 1; id <= count; id++)
    await proc.waitForLine(new RegExp(`^iomux echo: worker ${id} listening`), { stream: 'stderr' });
  const pids = new Map<number, number>();
  for (const line of proc.stderr) {
    const m = WORKER_LISTENING.exec(line);
    if (m !== null) pids.set(Number(m[1]), Number(m[2]));
  }
  return [...pids.values()];
}

/** Takes the echo, then half-closes: the server's drain ends with our FIN. */
function finish(sock: net.Socket): void {
  sock.on('error', () => {});
  sock.on('end', () => sock.end());
  sock.resume();
}

describe('one process', () => {
  it('a copy of SIGTERM during the stop it began is the same stop: the drain ends, exit 0', async () => {
    const { proc, port } = await startEcho(['--grace', '20000']);
    const c = await owedClient({ port });
    proc.child.kill('SIGTERM');
    await proc.waitForLine(/SIGTERM: shutting down/, { stream: 'stderr' });
    proc.child.kill('SIGTERM');
    proc.child.kill('SIGTERM');
    finish(c);
    expect(await proc.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(proc.stderr.join('\n')).not.toMatch(/again/);
    await expectRefused(port);
  });

  it.each(STYLES)('style %s: SIGHUP is a graceful stop, logged, exit 0', async (style) => {
    const { proc, port } = await startEcho(['--style', style]);
    await roundTrip(await connect({ port }), 'x');
    proc.child.kill('SIGHUP');
    expect(await proc.waitForExit(5000)).toEqual({ code: 0, signal: null });
    expect(proc.stderr.join('\n')).toMatch(/SIGHUP: shutting down/);
    await expectRefused(port);
  });

  it('SIGUSR1 prints a status line and opens no debugger; the server keeps serving', async () => {
    const { proc, port } = await startEcho([]);
    const c = await connect({ port });
    await roundTrip(c, 'abc');
    proc.child.kill('SIGUSR1');
    await proc.waitForLine(/^iomux echo: status: 1 conn, 1 msgs, 3 bytes/, { stream: 'stderr', ms: 5000 });
    expect((await roundTrip(c, 'still here')).toString()).toBe('still here');
    expect(proc.stderr.join('\n')).not.toMatch(/Debugger/);
    proc.child.kill('SIGTERM');
    expect(await proc.waitForExit(5000)).toEqual({ code: 0, signal: null });
  });
});

describe('--workers', () => {
  it("a service manager's stop (SIGTERM to every process; the supervisor forwards its own too) drains and exits 0", async () => {
    const { proc, port } = await startEcho(['--workers', '3', '--grace', '20000']);
    const pids = await workerPids(proc, 3);
    // One worker is kept draining by a client it owes an echo, so the forwarded copy finds it
    // still stopping.
    const c = await owedClient({ port });
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    for (let id = 1; id <= 3; id++) {
      await proc.waitForLine(new RegExp(`^iomux echo worker ${id}: SIGTERM: shutting down`), { stream: 'stderr' });
    }
    proc.child.kill('SIGTERM');
    await proc.waitForLine(/^iomux echo: SIGTERM: stopping/, { stream: 'stderr' });
    finish(c);
    expect(await proc.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(proc.stderr.join('\n')).not.toMatch(/again|exited with code [1-9]|killed by/);
    expect(proc.stderr).toContain('iomux echo: all workers stopped');
    await expectRefused(port);
  });

  it('SIGHUP to the supervisor stops every worker gracefully, exit 0', async () => {
    const { proc, port } = await startEcho(['--workers', '2']);
    await workerPids(proc, 2);
    proc.child.kill('SIGHUP');
    expect(await proc.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(proc.stderr).toContain('iomux echo: all workers stopped');
    await expectRefused(port);
  });

  it('SIGUSR1 to the supervisor: every worker prints a status line, none opens a debugger', async () => {
    const { proc } = await startEcho(['--workers', '2']);
    await workerPids(proc, 2);
    proc.child.kill('SIGUSR1');
    await proc.waitForLine(/^iomux echo worker 1: status: /, { stream: 'stderr', ms: 5000 });
    await proc.waitForLine(/^iomux echo worker 2: status: /, { stream: 'stderr', ms: 5000 });
    expect(proc.stderr.join('\n')).not.toMatch(/Debugger/);
    proc.child.kill('SIGTERM');
    expect(await proc.waitForExit(10_000)).toEqual({ code: 0, signal: null });
  });
});
