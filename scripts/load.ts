// npm run load -- [--conns N] [--backend B] [--style S] [--rounds N] [--max-bytes N] [--parallel N]
//
// Proof that the echo server holds many connections at once: `iomux echo` (default: epoll,
// protocol style) and a client (scripts/load-client.ts) run as two processes, each with its soft
// fd limit raised to the hard one. The client opens --conns connections (default 10000), holds
// them all, pushes --rounds random echoes (1 to --max-bytes bytes) through every one of them and
// compares every byte. Exits 1 on any lost or wrong byte, a connection broken mid-echo, a server
// that died, or fds that did not return to their idle count. On --backend select, connections
// past FD_SETSIZE must be turned away cleanly (closed before any byte) while the rest are served.
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ROOT, fdCountOf, hardFdLimit, spawnNodeRaised, startEcho } from './lib/echo-child.js';

const FD_SETSIZE = 1024;

interface Flags {
  conns: number;
  backend: string;
  style: string;
  rounds: number;
  maxBytes: number;
  parallel: number;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = { conns: 10_000, backend: 'epoll', style: 'protocol', rounds: 2, maxBytes: 4096, parallel: 256 };
  const numeric: Record<string, keyof Flags> = {
    '--conns': 'conns',
    '--rounds': 'rounds',
    '--max-bytes': 'maxBytes',
    '--parallel': 'parallel',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${name} needs a value`);
    if (name === '--backend') flags.backend = value;
    else if (name === '--style') flags.style = value;
    else if (name in numeric) {
      const v = Number(value);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got '${value}'`);
      (flags as unknown as Record<string, number>)[numeric[name]] = v;
    } else throw new Error(`unknown flag ${name}`);
  }
  return flags;
}

interface ClientReport {
  conns: number;
  connected: number;
  connectErrors: Record<string, number>;
  heldBeforeTraffic: number;
  served: number;
  refused: number;
  broken: number;
  mismatches: number;
  bytesSent: number;
  bytesVerified: number;
  openAtEnd: number;
  connectMs: number;
  trafficMs: number;
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const hard = hardFdLimit();
  // Each connection costs the server one fd and the client one: both must fit under the limit.
  if (flags.conns + 100 > hard) {
    throw new Error(
      `--conns ${flags.conns} needs about ${flags.conns + 100} fds per process; the hard limit is ${hard}`,
    );
  }
  const server = await startEcho(['--backend', flags.backend, '--style', flags.style, '--quiet']);
  const idleFds = fdCountOf(server.pid);
  let peakFds = idleFds;
  const sampler = setInterval(() => {
    try {
      peakFds = Math.max(peakFds, fdCountOf(server.pid));
    } catch {
      /* it died: reported below */
    }
  }, 100);
  console.log(
    `load: ${flags.conns} connections, ${flags.rounds} rounds of 1-${flags.maxBytes} bytes, against iomux echo ` +
      `(${flags.backend}, ${flags.style}, pid ${server.pid}); fd limit ${hard} for both processes`,
  );

  const client = spawnNodeRaised(
    [
      join(ROOT, 'dist', 'scripts', 'load-client.js'),
      String(server.port),
      String(flags.conns),
      String(flags.rounds),
      String(flags.maxBytes),
      String(flags.parallel),
    ],
    ['ignore', 'pipe', 'inherit'],
  );
  let result: ClientReport | null = null;
  let serverFdsWhileHeld = 0;
  createInterface({ input: client.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { phase: string } & ClientReport;
    if (msg.phase === 'held') {
      try {
        serverFdsWhileHeld = fdCountOf(server.pid);
      } catch {
        /* it died: reported below */
      }
      console.log(
        `  holding ${(msg as unknown as { open: number }).open} connections; the server has ${serverFdsWhileHeld} fds open (${idleFds} idle)`,
      );
    } else if (msg.phase === 'done') result = msg;
  });
  const clientExit = await new Promise<number | null>((resolve) => client.once('exit', (code) => resolve(code)));
  clearInterval(sampler);
  const alive = server.child.exitCode === null && server.child.signalCode === null;
  let fdsAfter = alive ? fdCountOf(server.pid) : -1;
  for (let i = 0; alive && i < 100 && fdsAfter !== idleFds; i++) {
    await new Promise((r) => setTimeout(r, 100));
    fdsAfter = fdCountOf(server.pid);
  }
  const serverErrors = server.stderr.length;
  await server.stop();

  const failures: string[] = [];
  if (clientExit !== 0 || result === null) failures.push(`the client exited with ${clientExit}`);
  const r = result as ClientReport | null;
  if (r !== null) {
    console.log(
      `connections: ${r.connected} connected in ${r.connectMs} ms, ${r.heldBeforeTraffic} held, ${r.served} served, ` +
        `${r.refused} refused, ${r.broken} broken, ${r.openAtEnd} still open after the last echo`,
    );
    console.log(
      `bytes: ${r.bytesSent} sent, ${r.bytesVerified} echoed and verified, ${r.mismatches} connections with wrong bytes (traffic ${r.trafficMs} ms)`,
    );
    if (Object.keys(r.connectErrors).length > 0) console.log(`connect errors: ${JSON.stringify(r.connectErrors)}`);
    if (r.mismatches > 0 || r.broken > 0 || r.bytesVerified !== r.bytesSent) failures.push('bytes were lost or wrong');
    if (flags.backend === 'select' && flags.conns + idleFds > FD_SETSIZE) {
      // Past FD_SETSIZE the server turns connections away; the rest must be served in full.
      if (r.served === 0 || r.served + r.refused !== flags.conns)
        failures.push('select: every connection must be served or cleanly refused');
      if (r.served + idleFds > FD_SETSIZE) failures.push(`select served ${r.served}, more than FD_SETSIZE allows`);
    } else if (r.served !== flags.conns || r.openAtEnd !== flags.conns) {
      failures.push(
        `${flags.conns - r.served} connections were not served, ${flags.conns - r.openAtEnd} not held to the end`,
      );
    }
  }
  console.log(
    `server: peak ${peakFds} fds (${peakFds - idleFds} over idle), ${fdsAfter} after the client left (${idleFds} idle), ` +
      `${serverErrors} stderr lines${serverErrors > 0 ? `, first: ${server.stderr[0]}` : ''}`,
  );
  if (!alive) failures.push('the server died');
  else if (fdsAfter !== idleFds) failures.push(`the server's fds did not return to idle (${fdsAfter} vs ${idleFds})`);
  if (failures.length > 0) {
    console.log(`FAIL: ${failures.join('; ')}`);
    return 1;
  }
  console.log('PASS');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`load: ${(err as Error).message}`);
    process.exit(2);
  },
);
