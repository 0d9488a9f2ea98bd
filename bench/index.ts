// npm run bench -- [--quick] [--only pipes|echo|SUBSTRING[,SUBSTRING...]] [--out DIR] [--duration S] [--repeat N]
//                  [--rounds N] [--sessions N] [--warmup-ms MS] [--warmup N] [--baseline DIR]
//
// Runs the pipes sweep (iomux Loop and raw Selector beside the C reference, the C reference with
// an idle thread, and Python's selectors) and the echo matrix (iomux's servers beside Node's net,
// Python's selectors, uvloop, gevent and C, driven by bench/loadgen), prints tables with ratio
// columns, and writes latest.json and SVG charts.
//
// --baseline DIR names another built checkout of iomux (a worktree of an older commit after
// `npm install`): its echo servers and pipes workers run too, interleaved with this checkout's,
// as `iomux-epoll-protocol@base`, `loop@base` and so on; --only keeps a baseline case wherever it
// keeps its counterpart, and `--only @base` keeps the baseline cases alone.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { planEcho, runEcho, type EchoResult } from './echo/suite.js';
import type { RunningServer } from './echo/servers.js';
import { PIPES_CPU, planPipes, roundsPerSession, runPipes, type PipesResult } from './pipes/suite.js';
import { baselineRecord, findBaseline, withBaselineTwins, type Baseline } from './report/baseline.js';
import { allCharts, toSvg } from './report/charts.js';
import { discoverEnv, machineInfo, type BenchEnv } from './report/env.js';
import { writeReport } from './report/json.js';
import { Progress } from './report/progress.js';
import { echoTables, pipesTables } from './report/table.js';

interface Flags {
  quick: boolean;
  only?: string;
  out?: string;
  duration?: number;
  repeat?: number;
  rounds?: number;
  sessions?: number;
  warmup: number;
  warmupMs?: number;
  baseline?: Baseline;
}

function positive(name: string, integer: boolean) {
  return (text: string): number => {
    const v = Number(text);
    if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
    }
    return v;
  };
}

function baselineDir(dir: string): Baseline {
  const baseline = findBaseline(dir);
  if (typeof baseline === 'string') throw new InvalidArgumentError(baseline);
  return baseline;
}

function parseFlags(argv: string[]): Flags {
  const program = new Command('bench')
    .description('iomux benchmarks: pipes (libevent bench.c method) and echo (loadgen), with C and Python references')
    .option('--quick', 'a reduced run of about a minute', false)
    .option(
      '--only <what>',
      "'pipes', 'echo', or substrings of case ids separated by commas (e.g. 'epoll', 'n1000', 'echo/node-net,echo/c/')",
    )
    .option('--out <dir>', 'where latest.json and the SVGs go (default: bench/results)')
    .option('--duration <seconds>', 'length of one loadgen run (default 1, quick 0.5)', positive('--duration', false))
    .option(
      '--repeat <n>',
      'loadgen runs per echo cell, the median reported (default 3, quick 1)',
      positive('--repeat', true),
    )
    .option(
      '--rounds <n>',
      'measured pipes rounds per case, pooled over the sessions (default 30, quick 15)',
      positive('--rounds', true),
    )
    .option(
      '--sessions <n>',
      'processes per pipes case and implementation, interleaved (default 5, quick 2)',
      positive('--sessions', true),
    )
    .option(
      '--warmup-ms <ms>',
      'pipes: each process first runs unrecorded rounds for this long (default 300, quick 100)',
      (t) => {
        const v = Number(t);
        if (!Number.isInteger(v) || v < 0)
          throw new InvalidArgumentError(`--warmup-ms must be an integer >= 0, got '${t}'`);
        return v;
      },
    )
    .option(
      '--warmup <n>',
      'pipes warm-up rounds dropped before measuring, after the timed warm-up',
      (t) => {
        const v = Number(t);
        if (!Number.isInteger(v) || v < 0)
          throw new InvalidArgumentError(`--warmup must be an integer >= 0, got '${t}'`);
        return v;
      },
      2,
    )
    .option(
      '--baseline <dir>',
      'also run the iomux servers and pipes workers of this built checkout (an older commit), ids suffixed @base',
      baselineDir,
    )
    .showHelpAfterError()
    // A usage error exits 2, as an --only that matches nothing does; commander's own code is 1.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(argv);
  return program.opts<Flags>();
}

function skipNotes(env: BenchEnv): string[] {
  const notes: string[] = [];
  if (env.pipesRef.path === null) notes.push(`pipes: C reference column skipped: ${env.pipesRef.missing}`);
  if (env.python.path === null) notes.push(`pipes and echo: Python columns skipped: ${env.python.missing}`);
  if (env.uvloop.path === null) notes.push(`echo: uvloop server skipped: ${env.uvloop.missing}`);
  if (env.gevent.path === null) notes.push(`echo: gevent server skipped: ${env.gevent.missing}`);
  if (env.echoRef.path === null) notes.push(`echo: C reference server skipped: ${env.echoRef.missing}`);
  if (env.loadgen.path === null) notes.push(`echo: no measurements possible: ${env.loadgen.missing}`);
  if (env.taskset.path === null) notes.push(`pipes and echo: ${env.taskset.missing}`);
  return notes;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv);
  const env = discoverEnv();
  const outDir = resolve(flags.out ?? join(env.root, 'bench', 'results'));
  const only = flags.only?.toLowerCase();
  const suiteOnly = only === 'pipes' || only === 'echo' ? only : undefined;
  // Several substrings separated by commas select every case that matches any of them.
  const wanted = only?.split(',').filter((part) => part !== '') ?? [];
  const filter = withBaselineTwins(
    (id: string): boolean =>
      only === undefined || suiteOnly !== undefined || wanted.some((part) => id.toLowerCase().includes(part)),
  );
  const pipesOpts = {
    rounds: flags.rounds ?? (flags.quick ? 15 : 30),
    sessions: flags.sessions ?? (flags.quick ? 2 : 5),
    warmup: flags.warmup,
    warmupMs: flags.warmupMs ?? (flags.quick ? 100 : 300),
    filter,
    baseline: flags.baseline,
  };
  const echoOpts = {
    quick: flags.quick,
    durationS: flags.duration ?? (flags.quick ? 0.5 : 1),
    repeat: flags.repeat ?? (flags.quick ? 1 : 3),
    filter,
    baseline: flags.baseline,
  };

  const pipesCases = suiteOnly === 'echo' ? [] : planPipes(pipesOpts);
  const echoPlan = suiteOnly === 'pipes' ? { specs: [], cases: [] } : planEcho(env, echoOpts);
  if (pipesCases.length + echoPlan.cases.length === 0) {
    process.stderr.write(`bench: no case matches --only ${flags.only}\n`);
    process.exitCode = 2;
    return;
  }

  const notes = skipNotes(env);
  const baseline = flags.baseline && baselineRecord(flags.baseline, env.root);
  if (baseline) {
    notes.push(
      `baseline: the @base rows and columns ran from ${baseline.dir} ` +
        `(${baseline.commit === null ? 'not a git checkout' : `commit ${baseline.commit}`})`,
    );
  }
  // Steps: one per pipes process and one per loadgen run (cases that cannot run end sooner).
  const progress = new Progress(pipesCases.length * pipesOpts.sessions + echoPlan.cases.length * echoOpts.repeat);
  for (const n of notes) progress.note(`bench: ${n}`);

  // Servers still running when the user presses ^C are ours to end.
  const live = new Set<RunningServer>();
  const onSignal = (): void => {
    progress.clear();
    for (const s of live) s.killNow();
    process.stderr.write('bench: interrupted\n');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = new Date().toISOString();
  const pipes: PipesResult[] = await runPipes(env, pipesCases, pipesOpts, progress);
  const echo: EchoResult[] = await runEcho(env, echoPlan.specs, echoPlan.cases, echoOpts, progress, live);
  progress.clear();

  for (const note of new Set([...pipes, ...echo].filter((r) => r.status === 'missing').map((r) => r.note))) {
    if (!notes.some((n) => n.includes(note))) notes.push(`skipped: ${note}`);
  }
  if (pipes.length > 0) {
    notes.push(
      `pipes: each case runs as ${pipesOpts.sessions} fresh processes per implementation, interleaved with the ` +
        `other implementations' (iomux: dist/bench/pipes/worker.js${baseline ? ", and the baseline's" : ''}); each runs ${pipesOpts.warmupMs} ms of unrecorded rounds, drops ${pipesOpts.warmup} more and ` +
        `measures ${roundsPerSession(pipesOpts)}, pooled; ` +
        (env.taskset.path === null ? 'processes not pinned (no taskset)' : `every process pinned to CPU ${PIPES_CPU}`),
    );
  }
  if (echo.length > 0) {
    notes.push(
      `echo: ${echoOpts.repeat} x loadgen --duration ${echoOpts.durationS} --warmup 0 per cell after one untimed warm-up run per server ` +
        'start; CPU per message from /proc/PID/stat utime/stime deltas over the whole loadgen run',
    );
  }

  const tables = [pipesTables(pipes), echoTables(echo, echoOpts.durationS, echoOpts.repeat)]
    .filter((t) => t !== '')
    .join('\n');
  process.stdout.write(`${tables}\n`);
  if (notes.length > 0) process.stdout.write(`notes:\n${notes.map((n) => `  - ${n}`).join('\n')}\n\n`);

  const machine = machineInfo(env);
  const json = writeReport(outDir, {
    schema: 'iomux-bench/1',
    started,
    finished: new Date().toISOString(),
    machine,
    options: {
      quick: flags.quick,
      only: flags.only ?? null,
      ...pipesOpts,
      filter: undefined,
      // The record, not the Baseline: no absolute path of this machine in a report.
      baseline: baseline || null,
      durationS: echoOpts.durationS,
      repeat: echoOpts.repeat,
    },
    notes,
    pipes,
    echo,
  });
  process.stdout.write(
    `machine: ${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}, Node ${machine.node}` +
      `${machine.python ? `, Python ${machine.python}` : ''}` +
      `${machine.uvloop ? `, uvloop ${machine.uvloop}` : ''}${machine.gevent ? `, gevent ${machine.gevent}` : ''}\n`,
  );
  process.stdout.write(`wrote ${json}\n`);
  for (const [name, spec] of allCharts(pipes, echo)) {
    const file = join(outDir, name);
    writeFileSync(file, await toSvg(spec));
    process.stdout.write(`wrote ${file}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
