#!/usr/bin/env node
// The `iomux` command. Today it has one subcommand, `echo`: the echo server of issue #4.
//
// Exit codes: 0 after a graceful shutdown (or --help), 1 for a runtime failure such as a port in
// use, 2 for a bad command line, 130 when a later stop signal cut the shutdown short (signals.ts).
// Every failure prints exactly one line to stderr.
import { readFileSync } from 'node:fs';
import { Command, Option, type CommanderError } from 'commander';
import { ControlPipe, WORKER_ENV, WORKER_ID_ENV } from './echo/control.js';
import { Log } from './echo/log.js';
import {
  DEFAULTS,
  MAX_WORKERS,
  STYLES,
  UsageError,
  checkCombination,
  decodeOptions,
  defaultBackend,
  parseBackend,
  parseGrace,
  parseHost,
  parseIdleTimeout,
  parseMaxConns,
  parsePort,
  parseStyle,
  parseUnixPath,
  parseWorkers,
  type EchoOptions,
} from './echo/options.js';
import { runServer } from './echo/run.js';
import { SAME_STOP_MS, SIGNALS_HELP } from './echo/signals.js';
import { supervise } from './echo/supervisor.js';
import { availableBackends } from './selectors.js';

const EXIT_USAGE = 2;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

interface RawEchoFlags {
  host?: string;
  port?: string;
  unix?: string;
  backend?: string;
  style?: string;
  workers?: string;
  maxConns?: string;
  idleTimeout?: string;
  grace?: string;
  quiet?: boolean;
  stats?: boolean;
  embedded?: boolean;
}

/** Turns the raw flags into settings; throws UsageError naming the first bad one. */
function echoOptions(flags: RawEchoFlags, explicit: ReadonlySet<string>): EchoOptions {
  const opts: EchoOptions = {
    host: flags.host === undefined ? DEFAULTS.host : parseHost(flags.host),
    port: flags.port === undefined ? DEFAULTS.port : parsePort(flags.port),
    path: flags.unix === undefined ? null : parseUnixPath(flags.unix),
    backend: flags.backend === undefined ? defaultBackend() : parseBackend(flags.backend),
    style: flags.style === undefined ? DEFAULTS.style : parseStyle(flags.style),
    workers: flags.workers === undefined ? DEFAULTS.workers : parseWorkers(flags.workers),
    maxConns: flags.maxConns === undefined ? Infinity : parseMaxConns(flags.maxConns),
    idleTimeoutMs: flags.idleTimeout === undefined ? 0 : parseIdleTimeout(flags.idleTimeout),
    graceMs: flags.grace === undefined ? DEFAULTS.graceMs : parseGrace(flags.grace),
    quiet: flags.quiet === true,
    stats: flags.stats === true,
    embedded: flags.embedded === true,
    inherited: false,
  };
  checkCombination(opts, explicit);
  return opts;
}

function buildProgram(): Command {
  const program = new Command('iomux')
    .description('I/O multiplexing for Node.js (select, poll, epoll, kqueue): tools built on it')
    .version(version(), '-V, --version')
    .showSuggestionAfterError(false)
    // Commander's own errors ("error: unknown option '--x'") read "iomux: unknown option '--x'".
    .configureOutput({
      outputError: (str, write) => write(str.startsWith('iomux') ? str : `iomux: ${str.replace(/^error: /, '')}`),
    })
    .exitOverride((err: CommanderError) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    });

  program
    .command('echo')
    .description('run an echo server: every byte a client sends comes straight back')
    .addOption(new Option('--host <addr>', `numeric IPv4/IPv6 address or localhost (default: ${DEFAULTS.host})`))
    .addOption(new Option('--port <n>', `TCP port, 0..65535; 0 picks a free one (default: ${DEFAULTS.port})`))
    .addOption(
      new Option('--unix <path>', 'listen on a Unix socket instead (not with --host/--port, nor --workers > 1)'),
    )
    .addOption(
      new Option('--backend <name>', `selector: ${availableBackends().join('|')} (default: ${defaultBackend()})`),
    )
    .addOption(
      new Option(
        '--style <style>',
        `${STYLES.join('|')}: raw readiness callbacks, ` +
          `asyncio-style Protocol, the same reading into its own buffer (asyncio's BufferedProtocol), ` +
          `or async/await (default: ${DEFAULTS.style})`,
      ),
    )
    .addOption(
      new Option(
        '--workers <n>',
        `processes sharing one listening socket, 1..${MAX_WORKERS}; ` +
          `dead ones are restarted (default: ${DEFAULTS.workers})`,
      ),
    )
    .addOption(
      new Option('--max-conns <n>', 'close connections over this many at once, per worker (default: no limit)'),
    )
    .addOption(new Option('--idle-timeout <ms>', 'close connections silent this long; 0 = never (default: 0)'))
    .addOption(
      new Option(
        '--grace <ms>',
        'on SIGINT/SIGTERM/SIGHUP, time open connections get to finish ' +
          `(default: ${DEFAULTS.graceMs}); a signal over ${SAME_STOP_MS} ms later exits at once`,
      ),
    )
    .addOption(new Option('--quiet', 'print only the listening line, --stats and errors'))
    .addOption(
      new Option('--stats', 'print connections, msgs/s, bytes/s and memory (RSS, V8 heap) to stderr every second'),
    )
    .addOption(new Option('--embedded', "serve from Node's own event loop (Loop.attach()) instead of Loop.run()"))
    .addHelpText(
      'after',
      `\n${SIGNALS_HELP}\n\nExit codes: 0 stopped cleanly, 1 runtime error (e.g. port in use), ` +
        '2 bad usage, 130 stopped by a later signal.',
    )
    .action(async (flags: RawEchoFlags, cmd: Command) => {
      const explicit = new Set(Object.keys(flags).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
      let opts: EchoOptions;
      try {
        opts = echoOptions(flags, explicit);
      } catch (err) {
        if (err instanceof UsageError)
          cmd.error(`iomux echo: ${err.message}`, { exitCode: EXIT_USAGE, code: 'iomux.usage' });
        throw err;
      }
      const code = opts.workers > 1 ? await supervise(opts, new Log(opts.quiet)) : await runServer(opts, null);
      process.exit(code);
    });
  return program;
}

async function main(): Promise<void> {
  const workerSettings = process.env[WORKER_ENV];
  if (workerSettings !== undefined) {
    // A worker started by the supervisor (supervisor.ts): settings come from it, already checked.
    const id = Number(process.env[WORKER_ID_ENV] ?? '0');
    process.exit(await runServer(decodeOptions(workerSettings), new ControlPipe(id)));
  }
  await buildProgram().parseAsync(process.argv);
}

await main();
