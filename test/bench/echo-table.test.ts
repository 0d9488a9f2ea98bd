// bench/report/table.ts echoTables: one table per (C, S, K) cell, msgs/s ratios against the C
// server and Node's net, CPU below one clock tick shown as an upper bound, servers that could not
// run named once below the tables.
import { describe, expect, test } from 'vitest';
import { echoTables } from '../../bench/report/table.js';
import { echoResult, headersOf, rowWhere, sectionOf, tableOf } from './fixtures.js';

const big = { conns: 10, size: 16384, inflight: 1 };
const results = [
  echoResult({ server: 'iomux-epoll-callback', kind: 'iomux', msgsPerS: 1500, userTicks: 0, userCpuUsPerMsg: 0 }),
  echoResult({ server: 'iomux-poll-async', kind: 'iomux', status: 'error', note: 'error: server did not start: boom' }),
  echoResult({ server: 'node-net', kind: 'node-net', msgsPerS: 1000 }),
  echoResult({ server: 'c', kind: 'c', msgsPerS: 2000 }),
  echoResult({ server: 'python', kind: 'python', status: 'missing', note: 'python3 not found on PATH' }),
  echoResult({ server: 'iomux-epoll-callback', kind: 'iomux', ...big, msgsPerS: 2000, cpuShare: 1.234 }),
  echoResult({
    server: 'node-net',
    kind: 'node-net',
    ...big,
    status: 'error',
    note: 'error: server did not start: boom',
  }),
  echoResult({ server: 'c', kind: 'c', ...big, msgsPerS: 4000 }),
  echoResult({ server: 'python', kind: 'python', ...big, status: 'missing', note: 'python3 not found on PATH' }),
];

const row = (section: string, server: string) => rowWhere(tableOf(section), { server });

describe('echoTables', () => {
  const text = echoTables(results, 1, 1);
  const small = sectionOf(text, 'echo  C=1 S=64B K=1');
  const large = sectionOf(text, 'echo  C=10 S=16KiB K=1');

  test('one run per cell: no spread column, and the heading says one run of D s', () => {
    expect(text.split('\n')[0]).toBe('echo: each row is one loadgen run of 1 s');
    expect(headersOf(small)).toEqual([
      'server',
      'msgs/s',
      'MiB/s',
      'p50 µs',
      'p99 µs',
      'p99.9 µs',
      'usr µs/msg',
      'sys µs/msg',
      'core use',
      'vs C',
      'vs net',
    ]);
  });

  test('each ok row has its numbers and msgs/s ratios against C and net', () => {
    expect(Object.values(row(small, 'c'))).toEqual([
      'c',
      '2,000',
      '0.061',
      '50.0',
      '90.0',
      '120',
      '2.00',
      '3.00',
      '50%',
      '1.00x',
      '2.00x',
    ]);
    expect(row(small, 'node-net')).toMatchObject({ 'vs C': '0.50x', 'vs net': '1.00x' });
  });

  test('zero clock ticks of CPU shows "<" one tick per message, not zero', () => {
    expect(Object.values(row(small, 'iomux-epoll-callback'))).toEqual([
      'iomux-epoll-callback',
      '1,500',
      '0.061',
      '50.0',
      '90.0',
      '120',
      '<10.0',
      '3.00',
      '50%',
      '0.75x',
      '1.50x',
    ]);
  });

  test('"vs net" is blank in a cell where net did not run, and core use may pass 100%', () => {
    expect(row(large, 'iomux-epoll-callback')).toMatchObject({ 'core use': '123%', 'vs C': '0.50x', 'vs net': '' });
  });

  test('a failed server gets a footnote number, the same one for the same reason in every cell', () => {
    expect(Object.values(row(small, 'iomux-poll-async'))).toEqual([
      'iomux-poll-async',
      'error [1]',
      ...Array<string>(9).fill(''),
    ]);
    expect(row(large, 'node-net')['msgs/s']).toBe('error [1]');
    expect(text).toContain('\n  [1] error: server did not start: boom\n');
  });

  test('a missing server is named once below the tables, with no row in any cell', () => {
    expect(text).not.toMatch(/^python {2}/m);
    expect(text.match(/not run: .*/g)).toEqual(['not run: python: python3 not found on PATH']);
  });

  test('servers missing for the same reason share one "not run" line', () => {
    const t = echoTables(
      [
        echoResult({ server: 'c', kind: 'c' }),
        echoResult({ server: 'python', kind: 'python', status: 'missing', note: 'not built' }),
        echoResult({ server: 'node-net', kind: 'node-net', status: 'missing', note: 'not built' }),
      ],
      1,
      1,
    );
    expect(t).toContain('not run: python, node-net: not built');
  });

  test('with repeats, the heading says so and a spread column shows (max - min) / median in %', () => {
    const runs = [1, 2, 3].map(() => ({
      msgsPerS: 1000,
      p50Us: 1,
      p99Us: 1,
      p999Us: 1,
      userCpuUsPerMsg: 1,
      sysCpuUsPerMsg: 1,
      cpuShare: 1,
    }));
    const t = echoTables([echoResult({ server: 'c', kind: 'c', runs, msgsPerSSpread: 0.123 })], 0.5, 3);
    expect(t.split('\n')[0]).toBe(
      'echo: each row is the median (by msgs/s) of 3 loadgen runs of 0.5 s; ' + 'spread = (max - min) / median msgs/s',
    );
    expect(headersOf(t).slice(0, 3)).toEqual(['server', 'msgs/s', 'spread']);
    expect(row(t, 'c')).toMatchObject({ 'msgs/s': '1,000', spread: '12%' });
  });

  test('is empty when there are no results', () => {
    expect(echoTables([], 1, 3)).toBe('');
  });

  test('an -embedded server gets a "vs owned" msgs/s ratio against its owned twin, and a summary table per cell', () => {
    const t = echoTables(
      [
        echoResult({ server: 'iomux-poll-callback', kind: 'iomux', msgsPerS: 2000 }),
        echoResult({ server: 'iomux-poll-callback-embedded', kind: 'iomux', msgsPerS: 1500 }),
        echoResult({ server: 'c', kind: 'c', msgsPerS: 4000 }),
        echoResult({ server: 'iomux-poll-callback', kind: 'iomux', ...big, msgsPerS: 1000 }),
        echoResult({
          server: 'iomux-poll-callback-embedded',
          kind: 'iomux',
          ...big,
          status: 'error',
          note: 'error: boom',
        }),
      ],
      1,
      1,
    );
    const cell = sectionOf(t, 'echo  C=1 S=64B K=1');
    expect(headersOf(cell).at(-1)).toBe('vs owned');
    expect(row(cell, 'iomux-poll-callback-embedded')).toMatchObject({ 'vs C': '0.38x', 'vs owned': '0.75x' });
    expect(row(cell, 'iomux-poll-callback')['vs owned']).toBe('');
    const summary = sectionOf(t, 'echo  embedded / owned msgs/s');
    expect(headersOf(summary)).toEqual(['server', 'C=1 S=64B K=1', 'C=10 S=16KiB K=1']);
    expect(Object.values(rowWhere(tableOf(summary), { server: 'iomux-poll-callback' }))).toEqual([
      'iomux-poll-callback',
      '0.75x',
      '',
    ]);
  });

  test('a baseline (@base) server is a row like any other, its embedded twin held to its own owned one', () => {
    const t = echoTables(
      [
        echoResult({ server: 'iomux-poll-callback', kind: 'iomux', msgsPerS: 2000 }),
        echoResult({ server: 'iomux-poll-callback@base', kind: 'iomux', msgsPerS: 1000 }),
        echoResult({ server: 'iomux-poll-callback-embedded', kind: 'iomux', msgsPerS: 1500 }),
        echoResult({ server: 'iomux-poll-callback-embedded@base', kind: 'iomux', msgsPerS: 900 }),
        echoResult({ server: 'c', kind: 'c', msgsPerS: 4000 }),
      ],
      1,
      1,
    );
    const cell = sectionOf(t, 'echo  C=1 S=64B K=1');
    expect(tableOf(cell).map((r) => [r.server, r['vs C'], r['vs owned']])).toEqual([
      ['iomux-poll-callback', '0.50x', ''],
      ['iomux-poll-callback@base', '0.25x', ''],
      ['iomux-poll-callback-embedded', '0.38x', '0.75x'],
      ['iomux-poll-callback-embedded@base', '0.23x', '0.90x'],
      ['c', '1.00x', ''],
    ]);
    const summary = tableOf(sectionOf(t, 'echo  embedded / owned msgs/s'));
    expect(summary.map((r) => [r.server, r['C=1 S=64B K=1']])).toEqual([
      ['iomux-poll-callback', '0.75x'],
      ['iomux-poll-callback@base', '0.90x'],
    ]);
  });

  test('without an -embedded server there is neither a "vs owned" column nor a summary', () => {
    expect(headersOf(small)).not.toContain('vs owned');
    expect(headersOf(large)).not.toContain('vs owned');
    expect(text).not.toContain('embedded / owned');
  });
});
