// The terminal tables. Every number shown is a measured one or a ratio of two measured ones;
// a case that did not run shows why ("n/a (FD_SETSIZE)", "missing", "error [1]") instead.
import type { EchoCell, EchoResult } from '../echo/suite.js';
import { cellLabel } from '../echo/suite.js';
import { ownedCounterpart } from '../echo/servers.js';
import {
  IMPL_LABEL,
  PIPES_IMPLS,
  SHAPES,
  SIZES,
  withBaselines,
  type PipesImpl,
  type PipesResult,
} from '../pipes/suite.js';

type Align = 'l' | 'r';

/** Pads columns to their widest cell; numbers right-aligned, names left. */
export function renderTable(headers: string[], rows: string[][], align: Align[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [fmt(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** Three significant figures, without exponent notation. */
export function num(x: number): string {
  // Round first, then pick the format, so 999.6 reads "1,000" and 9.996 reads "10.0".
  const a = Math.abs(Number(x.toPrecision(3)));
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

export function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return '';
  return `${(a / b).toFixed(2)}x`;
}

/** Collects long notes into numbered footnotes so table cells stay short. */
class Footnotes {
  readonly #notes: string[] = [];
  mark(note: string): string {
    let i = this.#notes.indexOf(note);
    if (i < 0) i = this.#notes.push(note) - 1;
    return `[${i + 1}]`;
  }
  render(): string {
    return this.#notes.map((n, i) => `  [${i + 1}] ${n}`).join('\n');
  }
  get empty(): boolean {
    return this.#notes.length === 0;
  }
}

function pipesCell(r: PipesResult | undefined, notes: Footnotes): string {
  if (r === undefined) return '';
  if (r.status === 'ok' && r.summary) return `${num(r.summary.median)} [${num(r.summary.p10)}-${num(r.summary.p90)}]`;
  if (r.status === 'fd_setsize' || r.status === 'fd_limit' || r.status === 'a_gt_n') return r.note;
  return `${r.status} ${notes.mark(r.note)}`;
}

/**
 * The ratio columns, [header, numerator, denominator], each a ratio of medians, shown when the
 * numerator ran. A baseline build is held to C as the current one is: Loop/C beside Loop@base/C
 * is the before and after.
 */
const PIPES_RATIOS: ReadonlyArray<[string, PipesImpl, PipesImpl]> = [
  ['Loop/C', 'loop', 'c'],
  ['Tr/C', 'transport', 'c'],
  ['raw/C', 'raw', 'c'],
  ['Loop@base/C', 'loop@base', 'c'],
  ['raw@base/C', 'raw@base', 'c'],
  ['Loop/C+thr', 'loop', 'c-thread'],
  ['Loop/Py', 'loop', 'python'],
  ['raw/Py', 'raw', 'python'],
];

function median(r: PipesResult | undefined): number | null {
  return r?.status === 'ok' && r.summary ? r.summary.median : null;
}

export function pipesTables(results: PipesResult[]): string {
  if (results.length === 0) return '';
  const out: string[] = [];
  const notes = new Footnotes();
  const backends = [...new Set(results.map((r) => r.backend))];
  const present = withBaselines(PIPES_IMPLS).filter((impl) => results.some((r) => r.impl === impl));
  // A ratio shows when its implementation ran: a baseline, or one newer than the results read.
  const ratios = PIPES_RATIOS.filter(([, x]) => present.includes(x));
  const first = results.find((r) => r.status === 'ok');
  for (const { a, w } of SHAPES) {
    const rows: string[][] = [];
    const skippedN = new Set<number>();
    for (const n of SIZES) {
      for (const backend of backends) {
        const get = (impl: PipesImpl): PipesResult | undefined =>
          results.find((r) => r.a === a && r.w === w && r.n === n && r.backend === backend && r.impl === impl);
        const here = present.map(get).filter((r) => r !== undefined);
        if (here.length === 0) continue;
        if (here.every((r) => r.status === 'a_gt_n')) {
          skippedN.add(n);
          continue;
        }
        rows.push([
          String(n),
          backend,
          ...present.map((impl) => pipesCell(get(impl), notes)),
          ...ratios.map(([, x, y]) => ratio(median(get(x)), median(get(y)))),
        ]);
      }
    }
    if (rows.length === 0) continue;
    const sessions = first?.sessionMedians.length ?? 0;
    const rounds = first
      ? `${first.summary?.n} rounds (${sessions} process${sessions === 1 ? '' : 'es'}, ` +
        `${first.warmupMs ? `${first.warmupMs} ms of warm-up and ` : ''}${first.warmupRounds} warm-up rounds dropped in each)`
      : 'rounds';
    out.push(
      `pipes  A=${a} W=${w}: µs per round, median [p10-p90] of ${rounds}; ratios of medians (time: >1 is slower)`,
    );
    const headers = ['N', 'backend', ...present.map((i) => IMPL_LABEL[i]), ...ratios.map(([header]) => header)];
    out.push(renderTable(headers, rows, ['r', 'l', ...headers.slice(2).map((): Align => 'r')]));
    if (skippedN.size > 0) out.push(`(N=${[...skippedN].join(', ')} not run: fewer pairs than A=${a} active ones)`);
    out.push('');
  }
  if (!notes.empty) out.push(notes.render(), '');
  return out.join('\n');
}

export function echoTables(results: EchoResult[], durationS: number, repeat: number): string {
  if (results.length === 0) return '';
  const out: string[] = [];
  const notes = new Footnotes();
  // Servers that could not run at all are named once, not given an empty row in every cell.
  const missing = new Map<string, string>();
  for (const r of results) if (r.status === 'missing') missing.set(r.server, r.note);
  const shown = results.filter((r) => r.status !== 'missing');
  const cells = [...new Map(shown.map((r) => [cellLabel(r), r])).values()];
  const runs =
    repeat > 1
      ? `the median (by msgs/s) of ${repeat} loadgen runs of ${durationS} s; spread = (max - min) / median msgs/s`
      : `one loadgen run of ${durationS} s`;
  out.push(
    `echo: each row is ${runs}`,
    '      server pinned to CPU 1, loadgen to CPU 0; latency is the round trip;',
    "      the server's CPU: user and system µs per message, core use = (user + system) CPU s per s of the measured window\n" +
      '      (the CPU also covers connecting and closing, so C=1000 rows can pass 100%);',
    '      "vs" columns are msgs/s ratios (>1 is faster; "vs owned": an -embedded server, driven by Node\'s event loop,\n' +
      '      against the same server owning its thread with run()); "<x" = under one clock tick over the run',
  );
  for (const cell of cells) {
    const here = shown.filter((r) => r.conns === cell.conns && r.size === cell.size && r.inflight === cell.inflight);
    const cRef = here.find((r) => r.kind === 'c' && r.status === 'ok');
    const net = here.find((r) => r.kind === 'node-net' && r.status === 'ok');
    // embedded / owned msgs/s, for the --embedded twin of each iomux server (shown only where one ran).
    const vsOwned = (r: EchoResult): string => {
      const owned = ownedCounterpart(r.server);
      return owned === null
        ? ''
        : ratio(r.msgsPerS, here.find((o) => o.server === owned && o.status === 'ok')?.msgsPerS);
    };
    const anyEmbedded = here.some((r) => ownedCounterpart(r.server) !== null);
    const rows = here.map((r) => {
      if (r.status !== 'ok')
        return [r.server, `${r.status} ${notes.mark(r.note)}`, '', '', '', '', '', '', '', '', '', '', ''];
      // Zero ticks is "under one tick", shown as an upper bound rather than as free.
      const cpu = (x: number | null, ticks: number | null): string =>
        x === null
          ? '?'
          : ticks === 0 && r.cpuResolutionUsPerMsg !== null
            ? `<${num(r.cpuResolutionUsPerMsg)}`
            : num(x);
      const spread = r.runs.length > 1 && r.msgsPerSSpread !== null ? `${Math.round(r.msgsPerSSpread * 100)}%` : '';
      return [
        r.server,
        num(r.msgsPerS ?? 0),
        spread,
        num(r.mibPerS ?? 0),
        num(r.p50Us ?? 0),
        num(r.p99Us ?? 0),
        num(r.p999Us ?? 0),
        cpu(r.userCpuUsPerMsg, r.userTicks),
        cpu(r.sysCpuUsPerMsg, r.sysTicks),
        r.cpuShare === null ? '?' : `${Math.round(r.cpuShare * 100)}%`,
        ratio(r.msgsPerS, cRef?.msgsPerS),
        ratio(r.msgsPerS, net?.msgsPerS),
        vsOwned(r),
      ];
    });
    const headers = [
      'server',
      'msgs/s',
      'spread',
      'MiB/s',
      'p50 µs',
      'p99 µs',
      'p99.9 µs',
      'usr µs/msg',
      'sys µs/msg',
      'core use',
      'vs C',
      'vs net',
      'vs owned',
    ];
    // With one run per cell there is no spread to show; without an embedded server, no "vs owned".
    const keep = (_: unknown, i: number): boolean => (repeat > 1 || i !== 2) && (anyEmbedded || i !== 12);
    out.push('', `echo  ${cellLabel(cell)}`);
    out.push(
      renderTable(
        headers.filter(keep),
        rows.map((row) => row.filter(keep)),
        (['l', ...Array<Align>(headers.length - 1).fill('r')] as Align[]).filter(keep),
      ),
    );
  }
  const summary = embeddedSummary(shown, cells);
  if (summary !== '') out.push('', summary);
  const byReason = new Map<string, string[]>();
  for (const [server, why] of missing) byReason.set(why, [...(byReason.get(why) ?? []), server]);
  for (const [why, servers] of byReason) out.push(`not run: ${servers.join(', ')}: ${why}`);
  out.push('');
  if (!notes.empty) out.push(notes.render(), '');
  return out.join('\n');
}

/**
 * One row per embedded iomux server, one column per cell: its msgs/s over its owned twin's in the
 * same cell. The numbers the embedded mode is judged by, side by side.
 */
function embeddedSummary(shown: EchoResult[], cells: EchoCell[]): string {
  const embedded = [...new Set(shown.map((r) => r.server).filter((id) => ownedCounterpart(id) !== null))];
  if (embedded.length === 0) return '';
  const rate = (server: string, cell: EchoCell): number | null | undefined =>
    shown.find(
      (r) =>
        r.server === server &&
        r.status === 'ok' &&
        r.conns === cell.conns &&
        r.size === cell.size &&
        r.inflight === cell.inflight,
    )?.msgsPerS;
  const rows = embedded.map((id) => [
    ownedCounterpart(id)!,
    ...cells.map((cell) => ratio(rate(id, cell), rate(ownedCounterpart(id)!, cell))),
  ]);
  return [
    "echo  embedded / owned msgs/s (same server and cell; 1.00x = no cost for running inside Node's loop)",
    renderTable(['server', ...cells.map(cellLabel)], rows, ['l', ...cells.map((): Align => 'r')]),
  ].join('\n');
}
