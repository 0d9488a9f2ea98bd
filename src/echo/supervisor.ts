// --workers N: the parent process starts N workers (this same CLI, with the settings in an
// environment variable) that each run their own loop on one inherited listening socket,
// and looks after them: a worker that dies is logged and restarted after a back-off; the stop
// signals and SIGUSR1 (signals.ts) are forwarded, and the parent exits 0 once every worker has
// exited cleanly.
//
// The parent is an ordinary Node program (it runs no iomux loop), so process.on('SIGTERM'),
// timers and child_process events all work here as usual.
//
// The listening socket: the parent opens it once and every worker inherits it as its fd 4 (one
// accept queue, as prefork servers do; DESIGN 6.3). A worker that dies loses only the
// connections it had accepted: the queued ones wait for the others, and for its replacement.
// With SO_REUSEPORT each worker had its own queue, and a dying worker reset what was in it.
//
// Every worker waits for the socket to be readable, so a new connection wakes them all and one
// wins the accept (the others get EAGAIN: accept() returns null). EPOLLEXCLUSIVE would wake one,
// but the Loop registers fds through the selector API, whose events are readable/writable only,
// and select/poll have no such flag. With at most 64 workers the herd is bounded, and each wake
// accepts up to ACCEPTS_PER_WAKE connections, so under load the extra wake-ups are amortised.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { CONTROL_FD, WORKER_ENV, WORKER_ID_ENV, type WorkerMessage } from './control.js';
import { listenSocket, type Listener } from './listen.js';
import { describeError, type Log } from './log.js';
import { encodeOptions, formatEndpoint, listeningLine, type EchoOptions } from './options.js';
import { EXIT_AT_ONCE } from './shutdown.js';
import { SAME_STOP_MS, STATUS_SIGNAL, STOP_SIGNALS } from './signals.js';
import { STATS_PERIOD_MS, formatStats, sumSamples, type StatsSample } from './stats.js';

// Restart back-off: 100 ms after a crash, doubling for each further crash of a worker that lived
// less than STABLE_MS, up to MAX_BACKOFF_MS. A worker that ran STABLE_MS starts the count afresh.
const BASE_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
const STABLE_MS = 10_000;
const STATS_LATE_MS = STATS_PERIOD_MS * 1.5;
// After the grace period, workers get this long to exit before they are killed.
const STOP_MARGIN_MS = 3000;

interface Slot {
  readonly id: number;
  child: ChildProcess | null;
  pid: number;
  startedAt: number;
  /** Crashes in a row, each within STABLE_MS of its start. */
  crashes: number;
  everListened: boolean;
  restart: NodeJS.Timeout | null;
  stats: StatsSample | null;
  exitCode: number | null;
}

export function backoffMs(crashes: number): number {
  return Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.max(0, crashes - 1));
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
}

/** Opens the shared listening socket; throws what bind/listen throw. */
function openListener(opts: EchoOptions): { listener: Listener; port: number } {
  const listener = listenSocket(opts);
  const addr = listener.sock.localAddress;
  return { listener, port: 'port' in addr ? addr.port : opts.port };
}

/** Runs the workers until they are all stopped; resolves with the exit code. */
export function supervise(opts: EchoOptions, log: Log): Promise<number> {
  let listener: Listener | null;
  let port: number;
  try {
    ({ listener, port } = openListener(opts));
  } catch (err) {
    log.error(`cannot listen on ${formatEndpoint(opts.host, opts.port, null)}: ${describeError(err)}`);
    return Promise.resolve(1);
  }
  const listenFd = listener.sock.fd;
  const workerEnv = encodeOptions({ ...opts, port, inherited: true });
  const closeListener = (): void => {
    listener?.close();
    listener = null;
  };
  const slots: Slot[] = Array.from({ length: opts.workers }, (_, i) => ({
    id: i + 1,
    child: null,
    pid: 0,
    startedAt: 0,
    crashes: 0,
    everListened: false,
    restart: null,
    stats: null,
    exitCode: null,
  }));
  let announced = false;
  let stopping: NodeJS.Signals | null = null;
  let stoppingAt = 0;
  let failed = false;
  let statsTimer: NodeJS.Timeout | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });

  const live = () => slots.filter((s) => s.child !== null);

  const finishIfAllExited = (): void => {
    if (live().length > 0) return;
    if (statsTimer !== null) clearInterval(statsTimer);
    if (killTimer !== null) clearTimeout(killTimer);
    // The listeners stay: a late copy of the stop signal must not kill a supervisor about to exit 0.
    closeListener();
    const clean = !failed && slots.every((s) => s.exitCode === 0);
    if (stopping !== null && clean) log.info('all workers stopped');
    resolveDone(clean ? 0 : 1);
  };

  // --stats: one line once every live worker reported its second, or STATS_LATE_MS after the
  // last line if some did not (one is restarting, say).
  const reported = new Set<Slot>();
  let lastStatsAt = Date.now();
  const printStats = (): void => {
    const samples = live()
      .map((s) => s.stats)
      .filter((s): s is StatsSample => s !== null);
    log.stats(formatStats(sumSamples(samples)));
    reported.clear();
    lastStatsAt = Date.now();
  };

  const onMessage = (slot: Slot, msg: WorkerMessage): void => {
    if (msg.type === 'stats') {
      slot.stats = msg;
      reported.add(slot);
      if (live().every((s) => reported.has(s))) printStats();
      return;
    }
    if (msg.type !== 'listening') return;
    slot.everListened = true;
    log.info(`worker ${slot.id} listening (pid ${slot.pid})`);
    if (!announced && slots.every((s) => s.everListened)) {
      announced = true;
      log.result(listeningLine(opts, port));
    }
  };

  const start = (slot: Slot): void => {
    slot.restart = null;
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
      // The same command line, for ps; the settings come from the environment (cli.ts checks it
      // first). fd 3 is the control pipe, fd 4 the listening socket (control.ts). detached: a new process group, so a terminal's
      // Ctrl-C reaches only the parent, which forwards it once (a second one means "now").
      stdio: ['ignore', 'inherit', 'inherit', 'pipe', listenFd],
      env: { ...process.env, [WORKER_ENV]: workerEnv, [WORKER_ID_ENV]: String(slot.id) },
      detached: true,
    });
    slot.child = child;
    slot.pid = child.pid ?? 0;
    slot.startedAt = Date.now();
    slot.stats = null;
    slot.exitCode = null;
    log.info(`worker ${slot.id} started (pid ${slot.pid})`);
    let pending = '';
    const pipe = child.stdio[CONTROL_FD] as Readable;
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          onMessage(slot, JSON.parse(line) as WorkerMessage);
        } catch {
          // not ours; ignore
        }
      }
    });
    pipe.on('error', () => {});
    child.on('error', (err) => log.error(`worker ${slot.id}: ${describeError(err)}`));
    child.on('exit', (code, signal) => onExit(slot, child, code, signal));
  };

  const onExit = (slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void => {
    if (slot.child !== child) return;
    slot.child = null;
    slot.exitCode = code ?? 128;
    if (stopping !== null || failed) {
      if (slot.exitCode !== 0) log.error(`worker ${slot.id} (pid ${slot.pid}) ${describeExit(code, signal)}`);
      return finishIfAllExited();
    }
    if (!announced && !slot.everListened) {
      // A worker that fails before it ever listens fails the same way on restart: give up.
      // (It printed why on stderr itself.)
      failed = true;
      log.error(`worker ${slot.id} (pid ${slot.pid}) ${describeExit(code, signal)} while starting; stopping`);
      for (const s of live()) s.child!.kill('SIGTERM');
      return finishIfAllExited();
    }
    const lived = Date.now() - slot.startedAt;
    slot.crashes = lived < STABLE_MS ? slot.crashes + 1 : 1;
    const delay = backoffMs(slot.crashes);
    log.error(`worker ${slot.id} (pid ${slot.pid}) ${describeExit(code, signal)}; restarting it in ${delay} ms`);
    slot.restart = setTimeout(() => start(slot), delay);
  };

  function onSignal(signal: NodeJS.Signals): void {
    if (stopping !== null) {
      // A copy within SAME_STOP_MS is the same stop (a service manager signals every process of
      // the unit). A later one cuts the stop short: the workers would take any signal as one more
      // copy (signals.ts), so they are killed.
      if (Date.now() - stoppingAt <= SAME_STOP_MS) return;
      log.error(`${signal} again: exiting now`);
      for (const s of live()) s.child!.kill('SIGKILL');
      process.exit(EXIT_AT_ONCE);
    }
    stopping = signal;
    stoppingAt = Date.now();
    // New connections are refused from now on, once the workers close their copies too.
    closeListener();
    log.info(`${signal}: stopping ${live().length} worker${live().length === 1 ? '' : 's'}`);
    for (const s of live()) s.child!.kill(signal);
    for (const s of slots) {
      if (s.restart === null) continue;
      // Its crash was logged and handled already; with no restart there is nothing to stop.
      clearTimeout(s.restart);
      s.restart = null;
      s.exitCode = 0;
    }
    killTimer = setTimeout(() => {
      for (const s of live()) {
        log.error(`worker ${s.id} (pid ${s.pid}) did not stop in time; killing it`);
        s.child!.kill('SIGKILL');
      }
    }, opts.graceMs + STOP_MARGIN_MS);
    finishIfAllExited();
  }

  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  // Each worker prints its own status line.
  process.on(STATUS_SIGNAL, () => {
    for (const s of live()) s.child!.kill(STATUS_SIGNAL);
  });
  if (opts.stats) {
    statsTimer = setInterval(() => {
      if (Date.now() - lastStatsAt >= STATS_LATE_MS) printStats();
    }, STATS_PERIOD_MS / 4);
  }
  for (const slot of slots) start(slot);
  return done;
}
