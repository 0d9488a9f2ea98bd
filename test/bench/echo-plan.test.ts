// bench/echo/suite.ts and servers.ts, the planning half: the (C, S, K) matrix, the cell labels
// tables and charts share, which servers exist and why one cannot run, --only on case ids, and
// the @base twins --baseline adds.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ECHO_STYLES, ownedCounterpart, serverSpecs, type RunningServer } from '../../bench/echo/servers.js';
import { cellLabel, echoMatrix, planEcho, runEcho } from '../../bench/echo/suite.js';
import { withBaselineTwins } from '../../bench/report/baseline.js';
import { discoverEnv, type BenchEnv } from '../../bench/report/env.js';
import type { Progress } from '../../bench/report/progress.js';
import { availableBackends } from '../../src/selectors.js';

// A package root with a (dummy) built CLI, so the iomux servers are runnable whether or not
// dist/ has been built here; the Python and C servers are named, not run.
const root = mkdtempSync(join(tmpdir(), 'iomux-bench-root-'));
mkdirSync(join(root, 'dist', 'src'), { recursive: true });
writeFileSync(join(root, 'dist', 'src', 'cli.js'), '');
afterAll(() => rmSync(root, { recursive: true, force: true }));
const env: BenchEnv = {
  ...discoverEnv(),
  root,
  python: { path: '/opt/py/bin/python3', missing: '' },
  uvloop: { path: '/opt/deb/python3', missing: '', found: null },
  gevent: { path: '/opt/deb/python3.11', missing: '', found: null },
  echoRef: { path: '/opt/ref/echo_ref', missing: '' },
};
const all = { quick: true, durationS: 0.5, repeat: 1, filter: (): boolean => true };
const iomuxIds = availableBackends().flatMap((b) =>
  ECHO_STYLES.flatMap((s) => [`iomux-${b}-${s}`, `iomux-${b}-${s}-embedded`]),
);

describe('echoMatrix', () => {
  test('--quick runs a few distinct cells of the full matrix: ping-pong, pipelined and 16 KiB', () => {
    const quick = echoMatrix(true);
    const key = (c: { conns: number; size: number; inflight: number }): string => `${c.conns}/${c.size}/${c.inflight}`;
    const full = new Set(echoMatrix(false).map(key));
    expect(quick.length).toBeLessThan(full.size);
    expect(new Set(quick.map(key)).size).toBe(quick.length);
    for (const c of quick) expect(full).toContain(key(c));
    expect(quick[0]).toEqual({ conns: 1, size: 64, inflight: 1 });
    expect(quick.some((c) => c.inflight > 1)).toBe(true);
    expect(quick.some((c) => c.size === 16384)).toBe(true);
  });

  test('the full matrix is every C × S × K once, in ascending C so a server short of fds fails last', () => {
    const cells = echoMatrix(false);
    expect(cells).toHaveLength(16);
    expect(new Set(cells.map((c) => `${c.conns}/${c.size}/${c.inflight}`)).size).toBe(16);
    expect(cells.map((c) => c.conns)).toEqual([1, 10, 100, 1000].flatMap((c) => [c, c, c, c]));
    expect(new Set(cells.map((c) => c.size))).toEqual(new Set([64, 16384]));
    expect(new Set(cells.map((c) => c.inflight))).toEqual(new Set([1, 16]));
  });
});

describe('cellLabel', () => {
  test.each([
    [{ conns: 1, size: 64, inflight: 1 }, 'C=1 S=64B K=1'],
    [{ conns: 10, size: 16384, inflight: 16 }, 'C=10 S=16KiB K=16'],
    [{ conns: 1000, size: 1023, inflight: 1 }, 'C=1000 S=1023B K=1'],
    [{ conns: 2, size: 1536, inflight: 4 }, 'C=2 S=1.5KiB K=4'],
  ])('%o is %s', (cell, label) => {
    expect(cellLabel(cell)).toBe(label);
  });
});

describe('serverSpecs', () => {
  test('one iomux server per backend and style, each beside its --embedded twin, then Node net, the Pythons and C', () => {
    expect(serverSpecs(env).map((s) => [s.id, s.kind])).toEqual([
      ...iomuxIds.map((id) => [id, 'iomux']),
      ['node-net', 'node-net'],
      ['python', 'python'],
      ['uvloop', 'uvloop'],
      ['gevent', 'gevent'],
      ['c', 'c'],
    ]);
  });

  test('each server is asked for a kernel-chosen port, the iomux ones for their backend and style too', () => {
    const specs = serverSpecs(env);
    const [b] = availableBackends();
    expect(specs.find((s) => s.id === `iomux-${b}-async`)?.command).toEqual([
      process.execPath,
      [join(env.root, 'dist', 'src', 'cli.js'), 'echo', '--port', '0', '--backend', b, '--style', 'async', '--quiet'],
    ]);
    expect(specs.find((s) => s.id === `iomux-${b}-async-embedded`)?.command).toEqual([
      process.execPath,
      [
        join(env.root, 'dist', 'src', 'cli.js'),
        'echo',
        '--port',
        '0',
        '--backend',
        b,
        '--style',
        'async',
        '--quiet',
        '--embedded',
      ],
    ]);
    expect(specs.find((s) => s.id === 'python')?.command).toEqual([
      '/opt/py/bin/python3',
      [join(env.root, 'bench', 'reference', 'echo.py'), '--port', '0'],
    ]);
    // Each on the interpreter found to import its module, not necessarily PATH's python3.
    expect(specs.find((s) => s.id === 'uvloop')?.command).toEqual([
      '/opt/deb/python3',
      [join(env.root, 'bench', 'reference', 'echo_uvloop.py'), '--port', '0'],
    ]);
    expect(specs.find((s) => s.id === 'gevent')?.command).toEqual([
      '/opt/deb/python3.11',
      [join(env.root, 'bench', 'reference', 'echo_gevent.py'), '--port', '0'],
    ]);
    expect(specs.find((s) => s.id === 'c')?.command).toEqual(['/opt/ref/echo_ref', ['--port', '0']]);
  });

  test('with a baseline, each iomux server is followed by its @base twin run from the baseline checkout', () => {
    const baseline = { root: join(root, 'before'), commit: 'abc1234' };
    const before = join(baseline.root, 'dist', 'src', 'cli.js');
    mkdirSync(join(baseline.root, 'dist', 'src'), { recursive: true });
    writeFileSync(before, '');
    const specs = serverSpecs(env, baseline);
    expect(specs.map((s) => s.id)).toEqual([
      ...iomuxIds.flatMap((id) => [id, `${id}@base`]),
      'node-net',
      'python',
      'uvloop',
      'gevent',
      'c',
    ]);
    const [b] = availableBackends();
    expect(specs.find((s) => s.id === `iomux-${b}-protocol-embedded@base`)).toEqual({
      id: `iomux-${b}-protocol-embedded@base`,
      kind: 'iomux',
      command: [
        process.execPath,
        [before, 'echo', '--port', '0', '--backend', b, '--style', 'protocol', '--quiet', '--embedded'],
      ],
    });
  });

  test('a server whose program is missing carries the reason instead of a command', () => {
    const bare: BenchEnv = {
      ...env,
      root: join(root, 'nothing-built-here'),
      python: { path: null, missing: 'python3 not found on PATH' },
      uvloop: { path: null, missing: 'python3-uvloop not installed (apt-get install python3-uvloop)', found: null },
      gevent: { path: null, missing: 'python3-gevent not installed (apt-get install python3-gevent)', found: null },
      echoRef: { path: null, missing: 'echo_ref not found' },
    };
    const byId = new Map(serverSpecs(bare).map((s) => [s.id, s.command]));
    for (const id of iomuxIds) expect(byId.get(id)).toEqual({ missing: 'dist/src/cli.js not built yet (src/cli.ts)' });
    expect(byId.get('python')).toEqual({ missing: 'python3 not found on PATH' });
    expect(byId.get('uvloop')).toEqual({ missing: 'python3-uvloop not installed (apt-get install python3-uvloop)' });
    expect(byId.get('gevent')).toEqual({ missing: 'python3-gevent not installed (apt-get install python3-gevent)' });
    expect(byId.get('c')).toEqual({ missing: 'echo_ref not found' });
  });
});

describe('planEcho', () => {
  test('plans every server in every cell, ids naming the server and the cell', () => {
    const { specs, cases } = planEcho(env, all);
    const cells = echoMatrix(true);
    expect(specs).toHaveLength(iomuxIds.length + 5);
    expect(cases).toHaveLength(specs.length * cells.length);
    expect(cases.filter((c) => c.server === 'node-net')).toEqual(
      cells.map((cell) => ({
        id: `echo/node-net/c${cell.conns}-s${cell.size}-k${cell.inflight}`,
        server: 'node-net',
        kind: 'node-net',
        ...cell,
      })),
    );
    expect(cases[0]).toEqual({
      id: `echo/${iomuxIds[0]}/c1-s64-k1`,
      server: iomuxIds[0],
      kind: 'iomux',
      conns: 1,
      size: 64,
      inflight: 1,
    });
  });

  test('keeps only the servers with a case the filter accepts', () => {
    const { specs, cases } = planEcho(env, {
      ...all,
      quick: false,
      filter: (id) => id.includes('/c/') && id.includes('-k16'),
    });
    expect(specs.map((s) => s.id)).toEqual(['c']);
    expect(cases.map((c) => c.id)).toEqual(
      [1, 10, 100, 1000].flatMap((c) => [`echo/c/c${c}-s64-k16`, `echo/c/c${c}-s16384-k16`]),
    );
  });

  test('a server that cannot run is still planned, so its cases are reported as missing', () => {
    const { specs } = planEcho(
      { ...env, python: { path: null, missing: 'no python' } },
      { ...all, filter: (id) => id.startsWith('echo/python/') },
    );
    expect(specs.map((s) => [s.id, s.command])).toEqual([['python', { missing: 'no python' }]]);
  });

  test('a missing uvloop or gevent is planned too, its cases carrying the install hint', () => {
    const why = 'python3-gevent not installed (apt-get install python3-gevent)';
    const { specs, cases } = planEcho(
      { ...env, gevent: { path: null, missing: why, found: null } },
      { ...all, filter: (id) => id.startsWith('echo/gevent/') || id.startsWith('echo/uvloop/') },
    );
    expect(specs.map((s) => [s.id, s.command])).toEqual([
      ['uvloop', ['/opt/deb/python3', [join(env.root, 'bench', 'reference', 'echo_uvloop.py'), '--port', '0']]],
      ['gevent', { missing: why }],
    ]);
    expect(new Set(cases.map((c) => c.kind))).toEqual(new Set(['uvloop', 'gevent']));
  });

  test('a run with uvloop and gevent missing reports them as missing, starting nothing', async () => {
    const skipped: BenchEnv = {
      ...env,
      uvloop: { path: null, missing: 'python3-uvloop not installed (apt-get install python3-uvloop)', found: null },
      gevent: { path: null, missing: 'python3-gevent not installed (apt-get install python3-gevent)', found: null },
    };
    const opts = { ...all, filter: (id: string) => /^echo\/(uvloop|gevent)\/c100-s64-k1$/.test(id) };
    const { specs, cases } = planEcho(skipped, opts);
    const notes: string[] = [];
    const progress = { step() {}, note: (t: string) => notes.push(t), clear() {} } as unknown as Progress;
    const live = new Set<RunningServer>();
    const results = await runEcho(skipped, specs, cases, opts, progress, live);
    expect(results.map((r) => [r.server, r.status, r.note, r.msgsPerS])).toEqual([
      ['uvloop', 'missing', skipped.uvloop.missing, null],
      ['gevent', 'missing', skipped.gevent.missing, null],
    ]);
    expect(notes).toEqual([
      `echo: skipping uvloop: ${skipped.uvloop.missing}`,
      `echo: skipping gevent: ${skipped.gevent.missing}`,
    ]);
    expect(live.size).toBe(0);
  });

  test('with a baseline, plans each @base server in the cells its counterpart is planned in', () => {
    const [b] = availableBackends();
    const baseline = { root, commit: null };
    const { specs, cases } = planEcho(env, {
      ...all,
      baseline,
      filter: withBaselineTwins((id) => id.includes(`echo/iomux-${b}-protocol/`) || id.includes('echo/c/')),
    });
    expect(specs.map((s) => s.id)).toEqual([`iomux-${b}-protocol`, `iomux-${b}-protocol@base`, 'c']);
    expect(cases.filter((c) => c.server === `iomux-${b}-protocol@base`).map((c) => [c.id, c.kind])).toEqual(
      echoMatrix(true).map((cell) => [
        `echo/iomux-${b}-protocol@base/c${cell.conns}-s${cell.size}-k${cell.inflight}`,
        'iomux',
      ]),
    );
  });

  test('plans nothing when the filter accepts nothing', () => {
    expect(planEcho(env, { ...all, filter: () => false })).toEqual({ specs: [], cases: [] });
  });
});

describe('ownedCounterpart', () => {
  test.each([
    ['iomux-poll-async-embedded', 'iomux-poll-async'],
    ['iomux-poll-async-embedded@base', 'iomux-poll-async@base'],
    ['iomux-epoll-callback', null],
    ['iomux-epoll-callback@base', null],
    ['node-net', null],
    ['c', null],
  ])('%s -> %s', (id, owned) => {
    expect(ownedCounterpart(id)).toBe(owned);
  });
});
