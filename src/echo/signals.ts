// Every signal the echo server handles, and what each means: the one place that decides it
// (run.ts and supervisor.ts install these; --help and the README describe them).
//
// - SIGINT, SIGTERM, SIGHUP: a graceful stop. SIGHUP is a stop rather than ignored: the server
//   has no configuration to reload, and a hang-up means its terminal or session is gone, so the
//   least surprising meaning is the default one (end), made graceful.
// - A copy of a stop signal within SAME_STOP_MS of the one that began the stop is part of that
//   stop: a service manager signals every process of a unit at once, and the supervisor forwards
//   its own copy, so one worker can get two. Only a later one means "exit now".
// - SIGUSR1: one status line on stderr. Node's default for it opens a debugger port, which a
//   server must not do because some process sent it a signal.
import type { Loop } from '../loop.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export const STATUS_SIGNAL = 'SIGUSR1';
export const SAME_STOP_MS = 1000;

/** The signal section of `iomux echo --help` (the README says the same). */
export const SIGNALS_HELP =
  'Signals: SIGINT, SIGTERM and SIGHUP stop gracefully (stop accepting, send what is owed, then\n' +
  `close); more copies within ${SAME_STOP_MS} ms are the same stop, a later one exits at once (130).\n` +
  'SIGUSR1 prints a status line to stderr (it does not open a debugger port).';

const ignore = (): void => {};

/**
 * Gives every handled signal a Node listener that does nothing. The Loop's handlers replace it
 * while the loop is open; when close() restores it, a copy of SIGTERM that arrives between the
 * loop's end and the process's exit is dropped instead of killing a process that stopped cleanly.
 * Call it before installing the Loop's handlers (Node's first listener installs its own handler).
 */
export function holdSignals(): void {
  for (const sig of [...STOP_SIGNALS, STATUS_SIGNAL]) process.on(sig, ignore);
}

/** Calls `stop(signal)` for each stop signal and `status()` for SIGUSR1, from inside the loop. */
export function installSignalHandlers(loop: Loop, stop: (sig: NodeJS.Signals) => void, status: () => void): void {
  for (const sig of STOP_SIGNALS) loop.addSignalHandler(sig, () => stop(sig));
  loop.addSignalHandler(STATUS_SIGNAL, status);
}
