// The client side of `npm run load` (its own process, started by scripts/load.ts with the soft
// fd limit raised): opens CONNS connections to 127.0.0.1:PORT, at most PARALLEL connects in
// flight, holds them all, then runs ROUNDS echo rounds on every one at once (1 to MAX_BYTES
// random bytes each, compared byte for byte), and only then closes them. Prints one JSON report.
//
// A connection the server closes before echoing a byte is "refused" (the select backend turns
// away fds past FD_SETSIZE that way); one closed after part of an echo, or whose echo differs,
// is a failure.
import net from 'node:net';
import { randomBytes } from 'node:crypto';

const [port, conns, rounds, maxBytes, parallel] = process.argv.slice(2).map(Number);

interface Conn {
  sock: net.Socket;
  closed: boolean;
  echoed: number;
  error: string | null;
}

const report = {
  conns,
  connected: 0,
  connectErrors: {} as Record<string, number>,
  heldBeforeTraffic: 0,
  served: 0,
  refused: 0,
  broken: 0,
  mismatches: 0,
  bytesSent: 0,
  bytesVerified: 0,
  openAtEnd: 0,
  connectMs: 0,
  trafficMs: 0,
};

function open(): Promise<Conn | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const conn: Conn = { sock, closed: false, echoed: 0, error: null };
    sock.once('connect', () => {
      report.connected++;
      resolve(conn);
    });
    sock.on('error', (err: Error & { code?: string }) => {
      conn.error = err.code ?? err.message;
      if (!sock.connecting && report.connected > 0) return;
      report.connectErrors[conn.error] = (report.connectErrors[conn.error] ?? 0) + 1;
      resolve(null);
    });
    sock.once('close', () => void (conn.closed = true));
  });
}

/** Runs the echo rounds on one connection; resolves with how it ended. */
function exercise(conn: Conn): Promise<'served' | 'refused' | 'broken' | 'mismatch'> {
  return new Promise((resolve) => {
    const { sock } = conn;
    if (conn.closed) return resolve('refused');
    let round = 0;
    let expected = Buffer.alloc(0);
    let got: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (how: 'served' | 'refused' | 'broken' | 'mismatch') => {
      if (done) return;
      done = true;
      sock.off('data', onData);
      resolve(how);
    };
    const next = () => {
      if (round === rounds) return finish('served');
      round++;
      expected = randomBytes(1 + Math.floor(Math.random() * maxBytes));
      got = [];
      n = 0;
      report.bytesSent += expected.length;
      sock.write(expected);
    };
    const onData = (d: Buffer) => {
      got.push(d);
      n += d.length;
      conn.echoed += d.length;
      if (n > expected.length) return finish('mismatch');
      if (n < expected.length) return;
      if (!Buffer.concat(got).equals(expected)) return finish('mismatch');
      report.bytesVerified += n;
      next();
    };
    sock.on('data', onData);
    sock.once('close', () => finish(conn.echoed === 0 ? 'refused' : 'broken'));
    next();
  });
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const all: Conn[] = [];
  let next = 0;
  const worker = async () => {
    while (next < conns) {
      next++;
      const c = await open();
      if (c !== null) all.push(c);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, conns) }, worker));
  report.connectMs = Date.now() - t0;
  // Let the server finish accepting (or turning away) what is in its queue.
  await new Promise((r) => setTimeout(r, 1000));
  report.heldBeforeTraffic = all.filter((c) => !c.closed).length;
  process.stdout.write(`${JSON.stringify({ phase: 'held', open: report.heldBeforeTraffic })}\n`);

  const t1 = Date.now();
  const outcomes = await Promise.all(all.map(exercise));
  report.trafficMs = Date.now() - t1;
  for (const o of outcomes) {
    if (o === 'served') report.served++;
    else if (o === 'refused') report.refused++;
    else if (o === 'broken') report.broken++;
    else report.mismatches++;
  }
  report.refused += conns - all.length;
  report.openAtEnd = all.filter((c) => !c.closed).length;
  process.stdout.write(`${JSON.stringify({ phase: 'done', ...report })}\n`);
  await Promise.all(
    all.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.closed) return resolve();
          c.sock.once('close', () => resolve());
          c.sock.end();
        }),
    ),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`load client: ${(err as Error).stack ?? err}\n`);
    process.exit(2);
  },
);
