// SVG charts drawn with vega-lite, rendered headless (no browser, no canvas). Only 'ok' results
// are drawn: a case that did not run is absent from the chart, never drawn as zero.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { EchoResult } from '../echo/suite.js';
import { cellLabel } from '../echo/suite.js';
import { IMPL_LABEL, PIPES_IMPLS, SHAPES, SIZES, type PipesImpl, type PipesResult } from '../pipes/suite.js';

export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * The chart's lines; 'C + idle thread' stays in the table, where it explains a ratio, and so do
 * the --baseline builds, whose before/after is read from adjacent table columns.
 */
const CHARTED_IMPLS: readonly PipesImpl[] = PIPES_IMPLS.filter((i) => i !== 'c-thread');

/** Median µs per round against N, log-log; colour = backend, dash = implementation. */
export function pipesChart(results: PipesResult[], a: number, w: number): TopLevelSpec | null {
  const rows = results
    .filter((r) => r.a === a && r.w === w && r.status === 'ok' && r.summary && CHARTED_IMPLS.includes(r.impl))
    .map((r) => ({
      n: r.n,
      backend: r.backend,
      impl: IMPL_LABEL[r.impl],
      median: r.summary!.median,
      p10: r.summary!.p10,
      p90: r.summary!.p90,
    }));
  if (rows.length === 0) return null;
  const implOrder = CHARTED_IMPLS.map((i) => IMPL_LABEL[i]);
  // The whole sweep on the axis, so sizes that could not run (FD_SETSIZE, fd limit) show as gaps.
  const x = {
    field: 'n',
    type: 'quantitative',
    title: 'N socketpairs registered (missing points: see the table)',
    scale: { type: 'log', domain: [Math.min(...SIZES), Math.max(...SIZES)] },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `pipes: time per round, A=${a} active, W=${w} writes`,
      subtitle: 'median, bars p10-p90; lower is better',
    },
    width: 560,
    height: 360,
    data: { values: rows },
    encoding: {
      x,
      color: {
        field: 'backend',
        type: 'nominal',
        title: 'backend',
        legend: { symbolType: 'stroke', symbolStrokeWidth: 3 },
      },
      strokeDash: {
        field: 'impl',
        type: 'nominal',
        title: 'implementation',
        sort: implOrder,
        // The dash legend has no colour of its own; give its strokes one so they show.
        legend: {
          symbolType: 'stroke',
          symbolStrokeWidth: 2,
          symbolSize: 500,
          encode: { symbols: { update: { stroke: { value: '#444' } } } },
        },
        // iomux solid, the references dashed (C) and dotted (Python), as the brief asks.
        scale: {
          domain: implOrder,
          range: [
            [1, 0],
            [6, 2, 1, 2],
            [6, 4],
            [2, 3],
          ],
        },
      },
    },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: { y: { field: 'median', type: 'quantitative', scale: { type: 'log' }, title: 'µs per round' } },
      },
      {
        mark: { type: 'rule', opacity: 0.5 },
        encoding: { y: { field: 'p10', type: 'quantitative' }, y2: { field: 'p90' } },
      },
    ],
  } as TopLevelSpec;
}

/** msgs/s per server, one panel per (C, S, K) cell. */
export function echoChart(results: EchoResult[]): TopLevelSpec | null {
  const rows = results
    .filter((r) => r.status === 'ok' && r.msgsPerS !== null)
    .map((r) => ({ server: r.server, kind: r.kind, cell: cellLabel(r), msgsPerS: r.msgsPerS }));
  if (rows.length === 0) return null;
  const servers = [...new Set(results.map((r) => r.server))];
  const cells = [...new Set(results.map((r) => cellLabel(r)))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'echo: messages per second by server', subtitle: 'higher is better; each panel has its own scale' },
    data: { values: rows },
    facet: { field: 'cell', type: 'nominal', sort: cells, title: null },
    columns: Math.min(4, cells.length),
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 220,
      height: 160,
      mark: 'bar',
      encoding: {
        x: { field: 'server', type: 'nominal', sort: servers, title: null, axis: { labelAngle: -50 } },
        y: { field: 'msgsPerS', type: 'quantitative', title: 'msgs/s' },
        color: { field: 'kind', type: 'nominal', title: 'server' },
        tooltip: [{ field: 'server' }, { field: 'msgsPerS', format: ',.0f' }],
      },
    },
  };
}

/** Every chart there is data for, as [file name, spec]. */
export function allCharts(pipes: PipesResult[], echo: EchoResult[]): Array<[string, TopLevelSpec]> {
  const out: Array<[string, TopLevelSpec]> = [];
  for (const { a, w } of SHAPES) {
    const spec = pipesChart(pipes, a, w);
    if (spec) out.push([`pipes-a${a}-w${w}.svg`, spec]);
  }
  const e = echoChart(echo);
  if (e) out.push(['echo-msgs.svg', e]);
  return out;
}
