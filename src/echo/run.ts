// One server process: a Loop, the echo server in the chosen style, --stats, graceful shutdown.
// Runs alone (--workers 1) or as a worker under the supervisor, which it then tells where it
// listens through the control pipe instead of printing the listening line itself.
import { Loop } from '../loop.js';
import type { ControlPipe } from './control.js';
import { Log, describeError } from './log.js';
import { formatEndpoint, listeningLine, type EchoOptions } from './options.js';
import { newCounters, type EchoContext, type EchoServer } from './contract.js';
import { startAsyncEcho } from './async.js';
import { startCallbackEcho } from './callback.js';
import { startProtocolEcho } from './protocol.js';
import { Shutdown } from './shutdown.js';
import { holdSignals, installSignalHandlers } from './signals.js';
import { StatsTicker, formatMemory, formatStats, formatStatus } from './stats.js';
import { serveAttached } from './embedded.js';

/** Starts the echo server in the style the options name, listening where they say. */
function startEchoServer(loop: Loop, ctx: EchoContext): Promise<EchoServer> {
  switch (ctx.opts.style) {
    case 'callback':
      return startCallbackEcho(loop, ctx);
    case 'protocol':
    case 'buffered':
      return startProtocolEcho(loop, ctx);
    case 'async':
      return startAsyncEcho(loop, ctx);
  }
}

/** Serves until shut down; resolves with the exit code. */
export async function runServer(opts: EchoOptions, control: ControlPipe | null): Promise<number> {
  const log = new Log(opts.quiet, control === null ? 'iomux echo' : `iomux echo worker ${control.id}`);
  const where = formatEndpoint(opts.host, opts.port, opts.path);
  let loop: Loop;
  try {
    loop = new Loop({ backend: opts.backend });
  } catch (err) {
    log.error(`cannot start the ${opts.backend} loop: ${describeError(err)}`);
    return 1;
  }
  loop.setExceptionHandler((err, context) => log.error(`${context.message}: ${describeError(err)}`));

  const counters = newCounters();
  let server: EchoServer;
  try {
    server = await startEchoServer(loop, { opts, log, counters });
  } catch (err) {
    log.error(`cannot listen on ${where}: ${describeError(err)}`);
    loop.close();
    return 1;
  }

  const stats = !opts.stats
    ? null
    : new StatsTicker(
        loop,
        counters,
        control === null
          ? (s) => {
              log.stats(formatStats(s));
              log.stats(formatMemory());
            }
          : (s) => control.send({ type: 'stats', ...s }),
      );
  let stopping!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stopping = resolve;
  });
  const shutdown = new Shutdown(loop, server, {
    graceMs: opts.graceMs,
    log,
    cleanup: () => {
      stats?.stop();
      control?.unwatch();
      stopping();
    },
    laterSignalExits: control === null,
  });
  holdSignals();
  installSignalHandlers(
    loop,
    (sig) => shutdown.begin(sig, true),
    () => log.stats(formatStatus(counters)),
  );
  stats?.start();

  const port = 'port' in server.address ? server.address.port : 0;
  if (control === null) {
    log.result(listeningLine(opts, port));
  } else {
    control.watch(loop, () => shutdown.begin('supervisor gone'));
    control.send({ type: 'listening', port });
  }

  try {
    await (opts.embedded ? serveAttached(loop, stopped) : loop.run());
  } catch (err) {
    log.error(`the loop failed: ${describeError(err)}`);
    return 1;
  } finally {
    if (!loop.isRunning()) loop.close();
  }
  return 0;
}
