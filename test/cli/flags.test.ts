// The command line of `iomux` (issue #4, item 1): --help everywhere, every flag validated, and
// every failure one clear line on stderr with a non-zero exit (2 usage, 1 runtime).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import { ensureBuilt, occupyPort, parseListening, runCli, startCli } from '../helpers/cli.js';
import { cleanup } from '../helpers/resources.js';
import { STYLES } from '../../src/echo/options.js';

beforeAll(ensureBuilt, 150_000);
afterEach(cleanup);

describe('--help', () => {
  it('the root command lists echo and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.join('\n')).toMatch(/Usage: iomux/);
    expect(r.stdout.join('\n')).toMatch(/^\s+echo \[options\]/m);
  });

  it('echo --help names every flag and exits 0', async () => {
    const r = await runCli(['echo', '--help']);
    expect(r.code).toBe(0);
    const text = r.stdout.join('\n');
    for (const flag of [
      '--host',
      '--port',
      '--unix',
      '--backend',
      '--style',
      '--workers',
      '--max-conns',
      '--idle-timeout',
      '--grace',
      '--quiet',
      '--stats',
    ]) {
      expect(text).toContain(flag);
    }
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1']) expect(text).toContain(sig);
  });

  it('help echo works too', async () => {
    const r = await runCli(['help', 'echo']);
    expect(r.code).toBe(0);
    expect(r.stdout.join('\n')).toMatch(/Usage: iomux echo/);
  });
});

describe('a bad command line prints one line and exits 2', () => {
  const kqueueMissing = !availableBackends().includes('kqueue');
  const cases: Array<[string[], RegExp]> = [
    [['--port', '99999'], /--port must be an integer from 0 to 65535, got '99999'/],
    [['--port', '-1'], /--port must be an integer/],
    [['--port', '80.5'], /--port must be an integer/],
    [['--port', 'abc'], /--port must be an integer/],
    [['--port'], /'--port <n>' argument missing/],
    [['--backend', 'nope'], /--backend must be one of .*got 'nope'/],
    [['--workers', '0'], /--workers must be an integer from 1 to 64, got '0'/],
    [['--workers', '65'], /--workers must be an integer from 1 to 64/],
    [['--style', 'threads'], /--style must be one of callback, protocol, buffered, async/],
    [['--max-conns', '0'], /--max-conns must be an integer/],
    [['--idle-timeout', '1.5'], /--idle-timeout must be an integer/],
    [['--grace', '-5'], /--grace must be an integer/],
    [['--host', 'example.com'], /--host must be a numeric/],
    [['--unix', '/tmp/iomux-x.sock', '--workers', '2'], /--unix cannot be combined with --workers > 1/],
    [['--unix', '/tmp/iomux-x.sock', '--port', '1234'], /--unix cannot be combined with --host or --port/],
    [['--bogus'], /unknown option '--bogus'/],
    [['surplus'], /too many arguments/],
  ];
  if (kqueueMissing) cases.push([['--backend', 'kqueue'], /--backend kqueue is not available on/]);

  it.each(cases)('echo %j', async (args, message) => {
    const r = await runCli(['echo', ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^iomux/);
    expect(r.stderr[0]).toMatch(message);
  });

  it('an unknown command', async () => {
    const r = await runCli(['serve']);
    expect(r.code).toBe(2);
    expect(r.stderr).toEqual(["iomux: unknown command 'serve'"]);
  });
});

describe('a port in use prints one line and exits 1', () => {
  it.each(STYLES)('style %s', async (style) => {
    const port = await occupyPort();
    const r = await runCli(['echo', '--port', String(port), '--style', style]);
    expect(r.code).toBe(1);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toEqual([`iomux echo: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`]);
  });

  it('with --workers 2 (the supervisor finds out before starting any worker)', async () => {
    const port = await occupyPort();
    const r = await runCli(['echo', '--port', String(port), '--workers', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toEqual([`iomux echo: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`]);
  });
});

describe('a Unix socket path in use prints one line and exits 1', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iomux-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each(STYLES)('style %s: a live server holds it, or a regular file is there', async (style) => {
    const live = join(dir, 'live.sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(live, resolve));
    try {
      const r = await runCli(['echo', '--unix', live, '--style', style]);
      expect(r.code).toBe(1);
      expect(r.stderr).toEqual([`iomux echo: cannot listen on ${live}: address already in use (EADDRINUSE)`]);
    } finally {
      server.close();
    }
    const file = join(dir, 'file');
    writeFileSync(file, 'keep me');
    const r = await runCli(['echo', '--unix', file, '--style', style]);
    expect(r.code).toBe(1);
    expect(r.stderr).toEqual([`iomux echo: cannot listen on ${file}: address already in use (EADDRINUSE)`]);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it.each(STYLES)('style %s: a stale socket file left by a crash is taken over', async (style) => {
    const path = join(dir, 'stale.sock');
    const crashed = startCli(['echo', '--unix', path, '--style', style]);
    await crashed.waitForLine(/listening on/);
    crashed.child.kill('SIGKILL');
    await crashed.exited;
    expect(existsSync(path)).toBe(true);
    const proc = startCli(['echo', '--unix', path, '--style', style]);
    await proc.waitForLine(/listening on/);
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
    expect(existsSync(path)).toBe(false);
  });
});

describe('the defaults', () => {
  it('`iomux echo` listens on 127.0.0.1:7007 with the best backend, style protocol, 1 worker', async (ctx) => {
    // 7007 is the documented default; if something else has it, this machine cannot run the test.
    if (!(await portIsFree(7007))) ctx.skip('port 7007 is in use on this machine');
    const proc = startCli(['echo']);
    const m = await proc.waitForLine(/^iomux echo listening on .*$/);
    const best = availableBackends().includes('epoll')
      ? 'epoll'
      : availableBackends().includes('kqueue')
        ? 'kqueue'
        : 'poll';
    expect(m[0]).toBe(`iomux echo listening on 127.0.0.1:7007 (backend ${best}, style protocol, 1 worker)`);
    expect(parseListening(m[0])).toEqual({
      host: '127.0.0.1',
      port: 7007,
      backend: best,
      style: 'protocol',
      workers: 1,
    });
    proc.child.kill('SIGTERM');
    expect((await proc.waitForExit()).code).toBe(0);
  });
});

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
