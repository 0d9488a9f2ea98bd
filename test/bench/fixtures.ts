// Hand-made benchmark results for the report tests: the shape bench/pipes and bench/echo produce,
// with only the fields a test cares about given, the rest filled as a run that did not measure.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EchoResult } from '../../bench/echo/suite.js';
import type { PipesImpl, PipesResult, PipesStatus } from '../../bench/pipes/suite.js';

export function pipesResult(p: {
  impl: PipesImpl;
  backend: string;
  n: number;
  a?: number;
  w?: number;
  status?: PipesStatus;
  note?: string;
  median?: number;
  p10?: number;
  p90?: number;
  rounds?: number;
}): PipesResult {
  const a = p.a ?? 1;
  const w = p.w ?? 100;
  const status = p.status ?? 'ok';
  const ok = status === 'ok';
  const median = p.median ?? 1;
  return {
    id: `pipes/a${a}-w${w}/n${p.n}/${p.backend}/${p.impl}`,
    impl: p.impl,
    backend: p.backend,
    n: p.n,
    a,
    w,
    status,
    note: p.note ?? '',
    warmupRounds: 2,
    usPerRound: ok ? [median] : [],
    sessionMedians: ok ? [median] : [],
    summary: ok
      ? {
          n: p.rounds ?? 15,
          median,
          p10: p.p10 ?? median,
          p90: p.p90 ?? median,
          min: p.p10 ?? median,
          max: p.p90 ?? median,
        }
      : null,
  };
}

export function echoResult(p: Partial<EchoResult> & Pick<EchoResult, 'server' | 'kind'>): EchoResult {
  const conns = p.conns ?? 1;
  const size = p.size ?? 64;
  const inflight = p.inflight ?? 1;
  const status = p.status ?? 'ok';
  const ok = status === 'ok';
  return {
    id: `echo/${p.server}/c${conns}-s${size}-k${inflight}`,
    conns,
    size,
    inflight,
    status,
    note: '',
    durationS: ok ? 1 : null,
    loadgenWallS: ok ? 1.1 : null,
    msgs: ok ? 1000 : null,
    msgsPerS: ok ? 1000 : null,
    mibPerS: ok ? 0.061 : null,
    p50Us: ok ? 50 : null,
    p99Us: ok ? 90 : null,
    p999Us: ok ? 120 : null,
    userCpuUsPerMsg: ok ? 2 : null,
    sysCpuUsPerMsg: ok ? 3 : null,
    userCpuShare: ok ? 0.2 : null,
    cpuShare: ok ? 0.5 : null,
    userTicks: ok ? 20 : null,
    sysTicks: ok ? 30 : null,
    cpuResolutionUsPerMsg: ok ? 10 : null,
    runs: [],
    msgsPerSSpread: null,
    ...p,
  };
}

export type Row = Record<string, string>;

/**
 * The rows of the first table in `text` (as renderTable draws it), keyed by header. Columns are
 * cut where the dashed line under the headers puts them, so a blank cell reads as ''.
 */
export function tableOf(text: string): Row[] {
  const lines = text.split('\n');
  const sep = lines.findIndex((l) => /^-+( {2}-+)*$/.test(l));
  if (sep < 1) throw new Error(`no table in:\n${text}`);
  const spans = [...lines[sep].matchAll(/-+/g)].map((m) => [m.index, m.index + m[0].length] as const);
  const cut = (line: string): string[] =>
    spans.map(([from, to], i) => line.slice(from, i === spans.length - 1 ? undefined : to).trim());
  const headers = cut(lines[sep - 1]);
  const rows: Row[] = [];
  for (const line of lines.slice(sep + 1)) {
    if (line === '' || line.startsWith('(')) break;
    const cells = cut(line);
    rows.push(Object.fromEntries(headers.map((h, i) => [h, cells[i]])));
  }
  return rows;
}

/** The headers of the first table in `text`, in order. */
export function headersOf(text: string): string[] {
  const lines = text.split('\n');
  const sep = lines.findIndex((l) => /^-+( {2}-+)*$/.test(l));
  return lines[sep - 1].trim().split(/\s{2,}/);
}

/** The one row of `rows` matching every field of `where`; throws when there is not exactly one. */
export function rowWhere(rows: Row[], where: Row): Row {
  const found = rows.filter((r) => Object.entries(where).every(([k, v]) => r[k] === v));
  if (found.length !== 1)
    throw new Error(`${found.length} rows match ${JSON.stringify(where)} in ${JSON.stringify(rows, null, 1)}`);
  return found[0];
}

/** The lines from the one starting with `heading` up to the next blank line; throws when absent. */
export function sectionOf(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  if (start < 0) throw new Error(`no section ${JSON.stringify(heading)} in:\n${text}`);
  const end = lines.findIndex((l, i) => i > start && l === '');
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/**
 * An executable standing in for bench/reference/pipes.c: a sh script whose `body` runs with
 * $rounds, $pairs and $impl ('c', or 'c-thread' under --idle-thread) taken from its arguments,
 * and `us N WARM SLOW FAST` printing N comma-separated round times (the first WARM of them SLOW).
 * sh, not node, so each run costs milliseconds.
 */
export function fakePipesRef(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `#!/bin/sh
rounds=0; pairs=0; impl=c
while [ $# -gt 0 ]; do
  case "$1" in --rounds) rounds=$2; shift ;; --pairs) pairs=$2; shift ;; --idle-thread) impl=c-thread ;; esac
  shift
done
us() { awk -v n="$1" -v w="$2" -v s="$3" -v f="$4" 'BEGIN { for (i = 0; i < n; i++) printf "%s%s", (i ? "," : ""), (i < w ? s : f) }'; }
${body}
`,
  );
  chmodSync(file, 0o755);
  return file;
}
