// bench/report/json.ts: latest.json, the machine-readable result, written where --out says.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { writeReport, type BenchReport } from '../../bench/report/json.js';
import { echoResult, pipesResult } from './fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'iomux-bench-json-'));
  dirs.push(d);
  return d;
}

function report(notes: string[]): BenchReport {
  return {
    schema: 'iomux-bench/1',
    started: '2024-01-01T00:00:00.000Z',
    finished: '2024-01-01T00:01:00.000Z',
    machine: {
      cpuModel: 'Test CPU',
      cores: 2,
      kernel: '6.1.0',
      platform: 'linux-x64',
      node: 'v20.0.0',
      python: null,
      uvloop: null,
      gevent: null,
      fdSoftLimit: '1024',
      fdHardLimit: '4096',
      clkTck: 100,
      taskset: false,
    },
    options: { quick: true, only: null },
    notes,
    pipes: [pipesResult({ impl: 'c', backend: 'epoll', n: 10, median: 4.5 })],
    echo: [echoResult({ server: 'c', kind: 'c', msgsPerS: 1234 })],
  };
}

describe('writeReport', () => {
  test('writes latest.json into the directory, creating it and its parents, and returns the path', () => {
    const dir = join(scratch(), 'results', 'run1');
    const file = writeReport(dir, report(['pipes: C reference column skipped']));
    expect(file).toBe(join(dir, 'latest.json'));
    const back = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
    expect(back).toEqual(report(['pipes: C reference column skipped']));
    expect(back.pipes[0].summary?.median).toBe(4.5);
    expect(back.echo[0].msgsPerS).toBe(1234);
  });

  test('is indented JSON ending in a newline, so it diffs line by line', () => {
    const text = readFileSync(writeReport(scratch(), report([])), 'utf8');
    expect(text.startsWith('{\n  "schema": "iomux-bench/1",\n')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
  });

  test('replaces the previous latest.json rather than appending to it', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'latest.json'), 'x'.repeat(100_000));
    const file = writeReport(dir, report(['second']));
    expect((JSON.parse(readFileSync(file, 'utf8')) as BenchReport).notes).toEqual(['second']);
  });

  test('keeps null numbers as null (a case that did not run is not written as 0)', () => {
    const r = {
      ...report([]),
      echo: [echoResult({ server: 'python', kind: 'python', status: 'missing', note: 'no python' })],
    };
    const back = JSON.parse(readFileSync(writeReport(scratch(), r), 'utf8')) as BenchReport;
    expect(back.echo[0].msgsPerS).toBeNull();
    expect(back.echo[0].status).toBe('missing');
  });
});
