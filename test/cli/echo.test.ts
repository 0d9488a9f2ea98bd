// `iomux echo` end to end (issue #4): each style on each backend echoes real clients' bytes,
// SIGTERM stops it with exit 0, and nothing is left listening afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import { connect, ensureBuilt, expectRefused, parseListening, roundTrip, startCli, startEcho } from '../helpers/cli.js';
import { cleanup } from '../helpers/resources.js';
import { STYLES } from '../../src/echo/options.js';

beforeAll(ensureBuilt, 150_000);
afterEach(cleanup);

const BACKENDS = availableBackends().filter((b) => b !== 'kqueue'); // kqueue: not on this CI (Linux)

/** 1 MiB of a pattern that shows any reordering or loss. */
const BIG = Buffer.alloc(1024 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7 + (i >> 11)) & 0xff;

describe.each(STYLES)('style %s', (style) => {
  it.each(BACKENDS)(
    'backend %s: echoes two clients, stops on SIGTERM with exit 0, leaves nothing listening',
    async (backend) => {
      const { proc, port, line } = await startEcho(['--style', style, '--backend', backend]);
      expect(parseListening(line)).toEqual({ host: '127.0.0.1', port, backend, style, workers: 1 });

      const a = await connect({ port });
      const b = await connect({ port });
      expect((await roundTrip(a, 'hello')).toString()).toBe('hello');
      expect((await roundTrip(b, 'world')).toString()).toBe('world');
      for (let i = 0; i < 20; i++) expect((await roundTrip(i % 2 ? a : b, `msg ${i}`)).toString()).toBe(`msg ${i}`);
      // Larger than any socket buffer: the server must queue and resume partial writes.
      expect((await roundTrip(a, BIG, 8000)).equals(BIG)).toBe(true);
      a.destroy();
      b.destroy();

      proc.child.kill('SIGTERM');
      expect(await proc.waitForExit()).toEqual({ code: 0, signal: null });
      await expectRefused(port);
    },
  );

  it('listens on a Unix socket and removes it on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iomux-cli-'));
    const path = join(dir, 'echo.sock');
    try {
      const proc = startCli(['echo', '--unix', path, '--style', style]);
      await proc.waitForLine(
        new RegExp(`^iomux echo listening on ${path} \\(backend \\w+, style ${style}, 1 worker\\)$`),
      );
      const c = await connect({ path });
      expect((await roundTrip(c, 'over unix')).toString()).toBe('over unix');
      expect((await roundTrip(c, BIG, 8000)).equals(BIG)).toBe(true);
      proc.child.kill('SIGTERM');
      expect((await proc.waitForExit()).code).toBe(0);
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--stats prints a status line every second with connections, msgs/s and bytes/s', async () => {
    const { proc, port } = await startEcho(['--style', style, '--stats']);
    const c = await connect({ port });
    for (let i = 0; i < 10; i++) await roundTrip(c, 'x'.repeat(100));
    const m = await proc.waitForLine(/^iomux echo: stats: (\d+) conns?, (\d+) msgs\/s, ([\d.]+) (B|KiB|MiB)\/s$/, {
      stream: 'stderr',
      ms: 3000,
    });
    expect(Number(m[1])).toBe(1);
    expect(Number(m[2])).toBeGreaterThan(0);
    expect(Number(m[3])).toBeGreaterThan(0);
  });
});

describe('output', () => {
  it('--quiet prints the listening line and nothing else, even on shutdown', async () => {
    const { proc, port } = await startEcho(['--quiet']);
    await roundTrip(await connect({ port }), 'quiet');
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
    await proc.closed;
    expect(proc.stdout).toHaveLength(1);
    expect(proc.stderr).toEqual([]);
  });

  it('without --quiet, shutdown is logged on stderr; stdout holds only the listening line', async () => {
    const { proc } = await startEcho([]);
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
    await proc.closed;
    expect(proc.stdout).toHaveLength(1);
    expect(proc.stderr).toEqual(['iomux echo: SIGTERM: shutting down; 0 open connections get up to 2000 ms to finish']);
  });
});

describe('other clients', () => {
  it('IPv6: --host ::1', async (ctx) => {
    const probe = await connect({ port: 1, host: '::1' }, 500).catch((err: { code?: string }) => err.code);
    if (probe === 'EADDRNOTAVAIL' || probe === 'ENETUNREACH') ctx.skip('no IPv6 loopback here');
    const { proc, port, line } = await startEcho(['--host', '::1']);
    expect(line).toMatch(/listening on \[::1\]:\d+ /);
    const c = await connect({ port, host: '::1' });
    expect((await roundTrip(c, 'six')).toString()).toBe('six');
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
  });

  it("Python's socket module gets its bytes back", async (ctx) => {
    const python = spawnSync('python3', ['--version']);
    if (python.error !== undefined || python.status !== 0) ctx.skip('python3 is not installed');
    const { proc, port } = await startEcho(['--style', 'callback']);
    const script = [
      'import socket, sys',
      `s = socket.create_connection(("127.0.0.1", ${port}), timeout=5)`,
      'data = bytes(range(256)) * 512',
      's.sendall(data)',
      'got = b""',
      'while len(got) < len(data):',
      '    chunk = s.recv(65536)',
      '    if not chunk: break',
      '    got += chunk',
      's.close()',
      'print("ok" if got == data else "mismatch %d" % len(got))',
    ].join('\n');
    const result = spawnSync('python3', ['-c', script], { timeout: 8000, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('ok');
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
  });
});
