// npm run soak -- [--minutes N] [--backend B] [--style S] [--out FILE] [--seed N]
//
// Runs the echo server (`iomux echo --stats`, its own process) under mixed traffic from this
// process (Node's net: an independent client): echo sessions that verify every byte, connections
// that reset mid-stream, slow readers, clients that send and never read, idle connections and
// quick connect/close churn. Each second it samples the server's RSS and fd count (/proc) and its
// V8 heap (the `memory:` line --stats prints). It fails (exit 1) if any echoed byte is wrong, if
// RSS, heap or fds grow without bound, or if the fds do not return to their idle count once the
// traffic stops. Growth: the first WARMUP seconds (a fifth of the run, at most 60 s) are set aside;
// of the rest, the median of the last third may exceed the median of the first third by at most
// 10 % + 8 MiB (RSS), 10 % + 4 MiB (heap) and 10 % + 20 (fds): a 10-minute run then fails on a
// leak of 100 KiB/s or one fd per 5 s (test/scripts/proof-helpers.test.ts). Writes every sample
// as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, connsFromLine, fdCountOf, heapFromLine, rssOf, startEcho, type EchoChild } from './lib/echo-child.js';
import { FD_LIMIT, HEAP_LIMIT, RSS_LIMIT, growth, median, type Growth } from './lib/stats.js';

interface Flags {
  minutes: number;
  backend: string;
  style: string;
  out: string | null;
  seed: number;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = { minutes: 10, backend: 'epoll', style: 'protocol', out: null, seed: Date.now() % 1e9 };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${name} needs a value`);
    if (name === '--minutes') flags.minutes = Number(value);
    else if (name === '--backend') flags.backend = value;
    else if (name === '--style') flags.style = value;
    else if (name === '--out') flags.out = value;
    else if (name === '--seed') flags.seed = Number(value);
    else throw new Error(`unknown flag ${name} (flags: --minutes N --backend B --style S --out FILE --seed N)`);
  }
  if (!(flags.minutes > 0)) throw new Error(`--minutes must be a positive number, got ${flags.minutes}`);
  return flags;
}

// A small seeded generator (xorshift32), so a run's traffic can be replayed with --seed.
let rngState = 1;
function random(): number {
  rngState ^= rngState << 13;
  rngState ^= rngState >>> 17;
  rngState ^= rngState << 5;
  return (rngState >>> 0) / 2 ** 32;
}
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
function payload(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (random() * 256) | 0;
  return b;
}
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Totals {
  sessions: Record<string, number>;
  bytesVerified: number;
  mismatches: number;
  errors: Record<string, number>;
  open: number;
}
const totals: Totals = { sessions: {}, bytesVerified: 0, mismatches: 0, errors: {}, open: 0 };

/** Connects; resolves with the socket once connected (errors are counted and rethrown). */
function dial(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    totals.open++;
    s.once('close', () => totals.open--);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes `data` and reads exactly that many bytes back, in `readChunk`-sized reads `readDelay` ms apart. */
function echoOnce(s: net.Socket, data: Buffer, readDelay = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let n = 0;
    const onData = (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (readDelay > 0) {
        s.pause();
        setTimeout(() => s.resume(), readDelay);
      }
      if (n < data.length) return;
      s.off('data', onData);
      s.off('close', onClose);
      const back = Buffer.concat(got);
      if (back.length !== data.length || !back.equals(data)) totals.mismatches++;
      else totals.bytesVerified += data.length;
      resolve();
    };
    const onClose = () => reject(new Error(`closed after ${n} of ${data.length} echoed bytes`));
    s.on('data', onData);
    s.once('close', onClose);
    s.write(data);
  });
}

function closeGracefully(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    s.once('close', () => resolve());
    s.resume();
    s.end();
  });
}

type Kind = (port: number) => Promise<void>;

const KINDS: Record<string, { slots: number; run: Kind }> = {
  // Request/response sessions that check every byte, then close with FIN.
  echo: {
    slots: 8,
    run: async (port) => {
      const s = await dial(port);
      for (let r = between(1, 20); r > 0; r--) {
        await echoOnce(s, payload(between(1, 32 * 1024)));
        await pause(between(0, 10));
      }
      await closeGracefully(s);
    },
  },
  // Send, then reset (SO_LINGER 0) while the echo is still coming back.
  reset: {
    slots: 4,
    run: async (port) => {
      const s = await dial(port);
      s.on('data', () => {});
      s.write(payload(between(1, 64 * 1024)));
      await pause(between(0, 50));
      s.resetAndDestroy();
    },
  },
  // A reader that takes its echo slowly: the server's queue fills and drains.
  slow: {
    slots: 4,
    run: async (port) => {
      const s = await dial(port);
      await echoOnce(s, payload(between(256, 1024) * 1024), 15);
      await closeGracefully(s);
    },
  },
  // Sends MiBs and never reads: the server must pause, hold, and let go when the client leaves.
  nonreading: {
    slots: 2,
    run: async (port) => {
      const s = await dial(port);
      s.pause();
      s.write(payload(4 << 20));
      await pause(between(2000, 5000));
      s.destroy();
    },
  },
  // Connected and silent for a while.
  idle: {
    slots: 16,
    run: async (port) => {
      const s = await dial(port);
      await pause(between(5000, 20000));
      await closeGracefully(s);
    },
  },
  // Connect and close at once.
  churn: {
    slots: 4,
    run: async (port) => {
      const s = await dial(port);
      await closeGracefully(s);
    },
  },
};

async function slot(kind: string, run: Kind, port: number, until: number): Promise<void> {
  while (Date.now() < until) {
    try {
      await run(port);
      totals.sessions[kind] = (totals.sessions[kind] ?? 0) + 1;
      // A breath between sessions: the soak looks for leaks, not for the top rate, and the
      // machine is shared.
      await pause(between(5, 50));
    } catch (err) {
      const key = `${kind}: ${(err as { code?: string }).code ?? (err as Error).message}`;
      totals.errors[key] = (totals.errors[key] ?? 0) + 1;
      await pause(50);
    }
  }
}

interface Sample {
  t: number;
  rss: number;
  heap: number | null;
  fds: number;
  conns: number | null;
  clientOpen: number;
}

function minuteFigures(samples: Sample[], fromS: number): Record<string, number> {
  const w = samples.filter((s) => s.t >= fromS && s.t < fromS + 60);
  return {
    fromS,
    rssMiB: +(median(w.map((s) => s.rss)) / 2 ** 20).toFixed(1),
    heapMiB: +(median(w.map((s) => s.heap ?? NaN)) / 2 ** 20).toFixed(1),
    fds: median(w.map((s) => s.fds)),
    conns: median(w.map((s) => s.conns ?? NaN)),
  };
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  rngState = flags.seed >>> 0 || 1;
  const server: EchoChild = await startEcho(['--backend', flags.backend, '--style', flags.style, '--stats']);
  let heap: number | null = null;
  let conns: number | null = null;
  const otherLines: string[] = [];
  server.onLine((line) => {
    const h = heapFromLine(line);
    const c = connsFromLine(line);
    if (h !== null) heap = h;
    else if (c !== null) conns = c;
    else otherLines.push(line);
  });
  await pause(1500);
  const idleFds = fdCountOf(server.pid);
  const durationMs = flags.minutes * 60_000;
  const start = Date.now();
  const until = start + durationMs;
  console.log(
    `soak: ${flags.minutes} min against iomux echo (pid ${server.pid}, port ${server.port}, ` +
      `${flags.backend}, ${flags.style}), seed ${flags.seed}; idle fds ${idleFds}`,
  );

  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    let rss: number;
    let fds: number;
    try {
      rss = rssOf(server.pid);
      fds = fdCountOf(server.pid);
    } catch {
      return; // the server is gone: reported as a failure at the end
    }
    const s: Sample = { t: Math.round((Date.now() - start) / 1000), rss, heap, fds, conns, clientOpen: totals.open };
    samples.push(s);
    if (s.t % 30 === 0) {
      console.log(
        `  t=${s.t}s rss ${(s.rss / 2 ** 20).toFixed(1)} MiB, heap ${((s.heap ?? NaN) / 2 ** 20).toFixed(1)} MiB, ` +
          `fds ${s.fds}, conns ${s.conns}, verified ${(totals.bytesVerified / 2 ** 20).toFixed(0)} MiB`,
      );
    }
  }, 1000);

  const slots: Array<Promise<void>> = [];
  for (const [kind, { slots: n, run }] of Object.entries(KINDS)) {
    for (let i = 0; i < n; i++) slots.push(slot(kind, run, server.port, until));
  }
  await Promise.all(slots);
  clearInterval(sampler);

  // Every client is gone: the server's fds must come back to what it had before the traffic.
  const alive = server.child.exitCode === null && server.child.signalCode === null;
  let drainedFds = alive ? fdCountOf(server.pid) : -1;
  for (let i = 0; alive && i < 100 && drainedFds !== idleFds; i++) {
    await pause(100);
    drainedFds = fdCountOf(server.pid);
  }
  await server.stop();

  const warmupS = Math.min(60, durationMs / 1000 / 5);
  const steady = samples.filter((s) => s.t >= warmupS);
  const checks: Record<string, Growth> = {
    rss: growth(
      steady.map((s) => s.rss),
      RSS_LIMIT.ratio,
      RSS_LIMIT.slack,
    ),
    heap: growth(
      steady.map((s) => s.heap ?? NaN),
      HEAP_LIMIT.ratio,
      HEAP_LIMIT.slack,
    ),
    fds: growth(
      steady.map((s) => s.fds),
      FD_LIMIT.ratio,
      FD_LIMIT.slack,
    ),
  };
  const minutes = Math.floor(durationMs / 60_000);
  const figures =
    minutes >= 1
      ? {
          first: minuteFigures(samples, 0),
          middle: minuteFigures(samples, Math.floor(minutes / 2) * 60),
          last: minuteFigures(samples, (minutes - 1) * 60),
        }
      : null;
  const failures: string[] = [];
  if (totals.mismatches > 0) failures.push(`${totals.mismatches} echoes came back wrong`);
  for (const [name, g] of Object.entries(checks)) {
    if (!g.ok)
      failures.push(
        `${name} grew: last-third median ${Math.round(g.last)} > limit ${Math.round(g.limit)} (first third ${Math.round(g.first)})`,
      );
  }
  if (drainedFds !== idleFds)
    failures.push(`fds did not return to idle: ${drainedFds} now, ${idleFds} before the traffic`);
  if (!alive) failures.push('the server died');

  const report = {
    kind: 'soak',
    date: new Date(start).toISOString(),
    node: process.version,
    ...flags,
    criterion: 'after warm-up, median(last third) <= median(first third) * (1 + ratio) + slack',
    limits: { rss: RSS_LIMIT, heap: HEAP_LIMIT, fds: FD_LIMIT },
    warmupS,
    idleFds,
    drainedFds,
    totals,
    checks,
    figures,
    serverOtherLines: otherLines.slice(0, 50),
    serverOtherLineCount: otherLines.length,
    failures,
    samples,
  };
  const out =
    flags.out ??
    join(
      ROOT,
      'docs',
      'results',
      `soak-${flags.backend}-${flags.style}-${flags.minutes}min-${report.date.slice(0, 10)}.json`,
    );
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 1)}\n`);

  const sessions = Object.entries(totals.sessions)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  console.log(
    `sessions: ${sessions}; ${(totals.bytesVerified / 2 ** 20).toFixed(1)} MiB echoed and verified, ${totals.mismatches} wrong`,
  );
  if (Object.keys(totals.errors).length > 0) console.log(`client-side errors: ${JSON.stringify(totals.errors)}`);
  if (figures !== null) {
    for (const [name, f] of Object.entries(figures)) {
      console.log(
        `${name.padEnd(6)} minute (from ${f.fromS} s): rss ${f.rssMiB} MiB, heap ${f.heapMiB} MiB, fds ${f.fds}, conns ${f.conns}`,
      );
    }
  }
  for (const [name, g] of Object.entries(checks)) {
    console.log(
      `${name}: first third ${Math.round(g.first)}, last third ${Math.round(g.last)}, limit ${Math.round(g.limit)}: ${g.ok ? 'ok' : 'GREW'}`,
    );
  }
  console.log(`fds: ${idleFds} idle before, ${drainedFds} after the traffic stopped`);
  console.log(`samples: ${out}`);
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
    console.error(`soak: ${(err as Error).stack ?? err}`);
    process.exit(2);
  },
);
