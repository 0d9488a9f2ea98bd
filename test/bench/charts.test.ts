// bench/report/charts.ts: vega-lite specs built from the results and rendered to SVG headless.
// Only 'ok' results are drawn: a case that did not run is absent, never drawn as zero.
import { describe, expect, test } from 'vitest';
import { allCharts, echoChart, pipesChart, toSvg } from '../../bench/report/charts.js';
import { echoResult, pipesResult } from './fixtures.js';

/** The data rows a spec carries inline. */
function rowsOf(spec: unknown): Array<Record<string, unknown>> {
  return (spec as { data: { values: Array<Record<string, unknown>> } }).data.values;
}

/** The accessible labels vega's SVG renderer writes for axes, legends, titles and each mark. */
function ariaLabels(svg: string): string[] {
  return [...svg.matchAll(/aria-label="([^"]*)"/g)].map((m) => m[1]);
}

const pipes = [
  pipesResult({ impl: 'loop', backend: 'epoll', n: 10, median: 20, p10: 18, p90: 25 }),
  pipesResult({ impl: 'c', backend: 'poll', n: 1000, median: 7 }),
  pipesResult({ impl: 'raw', backend: 'select', n: 10000, status: 'fd_setsize', note: 'n/a (FD_SETSIZE)' }),
  pipesResult({ impl: 'loop', backend: 'epoll', n: 100, a: 100, w: 1000, median: 300 }),
];

describe('pipesChart', () => {
  test('carries only the ok results of its (A, W) shape, labelled by implementation', () => {
    const spec = pipesChart(pipes, 1, 100);
    expect(rowsOf(spec)).toEqual([
      { n: 10, backend: 'epoll', impl: 'iomux Loop', median: 20, p10: 18, p90: 25 },
      { n: 1000, backend: 'poll', impl: 'C reference', median: 7, p10: 7, p90: 7 },
    ]);
  });

  test('leaves the baseline builds (--baseline) to the table, as it does C + idle thread', () => {
    const spec = pipesChart(
      [...pipes, pipesResult({ impl: 'loop@base', backend: 'epoll', n: 10, median: 30 })],
      1,
      100,
    );
    expect(rowsOf(spec).map((r) => r.impl)).toEqual(['iomux Loop', 'C reference']);
  });

  test('is null for a shape with nothing that ran', () => {
    expect(pipesChart(pipes, 100, 100)).toBeNull();
    expect(pipesChart([pipes[2]], 1, 100)).toBeNull();
  });

  test('renders to an SVG whose x axis spans the whole sweep, with no point for a case that did not run', async () => {
    const svg = await toSvg(pipesChart(pipes, 1, 100)!);
    expect(svg.startsWith('<svg')).toBe(true);
    const labels = ariaLabels(svg);
    expect(labels).toContain("Title text 'pipes: time per round, A=1 active, W=100 writes'");
    expect(labels.some((l) => /^X-axis .* log scale with values from 10 to 50,000$/.test(l))).toBe(true);
    // The select case was n/a: no select colour in the legend, and no mark for N=10000.
    expect(labels).toContain(
      "Symbol legend titled 'backend' for fill color and stroke color with 2 values: epoll, poll",
    );
    expect(
      labels.filter((l) => l.includes('µs per round: 20; backend: epoll; implementation: iomux Loop')),
    ).not.toHaveLength(0);
    expect(labels.filter((l) => /: 10000;/.test(l))).toEqual([]);
  });
});

describe('echoChart', () => {
  const echo = [
    echoResult({ server: 'c', kind: 'c', msgsPerS: 2000 }),
    echoResult({ server: 'iomux-poll-async', kind: 'iomux', status: 'error', note: 'error: boom' }),
    echoResult({ server: 'python', kind: 'python', status: 'missing', note: 'python3 not found on PATH' }),
    echoResult({ server: 'node-net', kind: 'node-net', conns: 10, size: 16384, msgsPerS: 500 }),
  ];

  test('carries one row per ok result, with its cell label', () => {
    expect(rowsOf(echoChart(echo))).toEqual([
      { server: 'c', kind: 'c', cell: 'C=1 S=64B K=1', msgsPerS: 2000 },
      { server: 'node-net', kind: 'node-net', cell: 'C=10 S=16KiB K=1', msgsPerS: 500 },
    ]);
  });

  test('has one panel per cell, at most four to a row', () => {
    const spec = echoChart(echo) as unknown as { columns: number; facet: { sort: string[] } };
    expect(spec.facet.sort).toEqual(['C=1 S=64B K=1', 'C=10 S=16KiB K=1']);
    expect(spec.columns).toBe(2);
    const many = [1, 2, 3, 4, 5].map((conns) => echoResult({ server: 'c', kind: 'c', conns }));
    expect((echoChart(many) as unknown as { columns: number }).columns).toBe(4);
  });

  test('is null when no server produced a number', () => {
    expect(echoChart(echo.slice(1, 3))).toBeNull();
    expect(echoChart([])).toBeNull();
  });

  test('renders to an SVG that names each cell and no server that failed', async () => {
    const svg = await toSvg(echoChart(echo)!);
    expect(svg).toContain('>C=1 S=64B K=1<');
    expect(svg).toContain('>C=10 S=16KiB K=1<');
    expect(svg).not.toContain('iomux-poll-async');
    expect(svg).not.toContain('>python<');
  });
});

describe('allCharts', () => {
  test('names one SVG per pipes shape with data and one for echo', () => {
    expect(allCharts(pipes, [echoResult({ server: 'c', kind: 'c' })]).map(([name]) => name)).toEqual([
      'pipes-a1-w100.svg',
      'pipes-a100-w1000.svg',
      'echo-msgs.svg',
    ]);
  });

  test('is empty when nothing ran', () => {
    expect(allCharts([pipes[2]], [])).toEqual([]);
  });
});
