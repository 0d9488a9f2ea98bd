// The echo bench's run order and repeat summary: repeats go round every server within a cell (so
// drift lands on all of them alike), and each (server, cell) reports its median-rate run whole.
import { describe, expect, test } from 'vitest';
import { echoSchedule, medianRun } from '../../bench/echo/suite.js';
import { echoResult } from './fixtures.js';

const cell = (server: string, conns: number, inflight = 1) => ({ server, conns, size: 64, inflight });

describe('echoSchedule', () => {
  test('within a cell, every repeat visits every server before the next repeat starts', () => {
    const cases = [cell('a', 1), cell('a', 100), cell('b', 1), cell('b', 100)];
    const order = echoSchedule(cases, 2).map(({ c, run }) => `${c.server}/c${c.conns}/r${run}`);
    expect(order).toEqual([
      'a/c1/r0',
      'b/c1/r0',
      'a/c1/r1',
      'b/c1/r1',
      'a/c100/r0',
      'b/c100/r0',
      'a/c100/r1',
      'b/c100/r1',
    ]);
  });

  test('cells differing only in messages in flight are separate cells', () => {
    const order = echoSchedule([cell('a', 100, 1), cell('a', 100, 16)], 1);
    expect(order.map(({ c }) => c.inflight)).toEqual([1, 16]);
  });

  test('every case appears exactly `repeat` times', () => {
    const cases = [cell('a', 1), cell('b', 1), cell('c', 10)];
    const order = echoSchedule(cases, 3);
    expect(order).toHaveLength(9);
    for (const c of cases) expect(order.filter((o) => o.c === c).map((o) => o.run)).toEqual([0, 1, 2]);
  });
});

describe('medianRun', () => {
  const run = (msgsPerS: number, p99Us: number) => echoResult({ server: 'c', kind: 'c', msgsPerS, p99Us });

  test('reports the whole run with the median msgs/s, not a mix of runs', () => {
    const r = medianRun([run(300, 1), run(100, 2), run(200, 3)]);
    expect(r.msgsPerS).toBe(200);
    expect(r.p99Us).toBe(3);
  });

  test('keeps every run in the order run and the spread (max - min) / median', () => {
    const r = medianRun([run(300, 1), run(100, 2), run(200, 3)]);
    expect(r.runs.map((x) => x.msgsPerS)).toEqual([300, 100, 200]);
    expect(r.msgsPerSSpread).toBeCloseTo(1);
  });

  test('of an even count, the lower middle run is reported', () => {
    expect(medianRun([run(400, 0), run(100, 0), run(300, 0), run(200, 0)]).msgsPerS).toBe(200);
  });

  test('one run is its own median with no spread', () => {
    const r = medianRun([run(123, 4)]);
    expect([r.msgsPerS, r.msgsPerSSpread]).toEqual([123, 0]);
  });
});
