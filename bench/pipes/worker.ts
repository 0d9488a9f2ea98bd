// One iomux pipes case in a fresh process, with bench/reference/pipes.c's arguments and output,
// so the harness runs iomux, the C reference and Python's selectors the same way:
//   node dist/bench/pipes/worker.js --api loop|transport|raw --backend B --pairs N --active A --writes W --rounds R
//     [--warmup-ms M]
// stdout: {"backend":..,"api":..,"n":N,"a":A,"w":W,"rounds":R,"warmup_rounds":K,"us_per_round":[..],"failures":F}
// Errors: {"error":"fd_setsize"} exit 3, {"error":"fd_limit"} exit 4.
import { parseArgs } from 'node:util';
import { native } from '../../src/native.js';
import { CaseUnavailable, openPairs } from './pairs.js';
import { runRaw } from './raw.js';
import { runLoop } from './loop.js';
import { runTransport } from './transport.js';

function intArg(values: Record<string, unknown>, name: string, min: number): number {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    process.stderr.write(`pipes worker: --${name} must be an integer >= ${min}, got ${String(values[name])}\n`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      api: { type: 'string', default: 'raw' },
      backend: { type: 'string', default: 'epoll' },
      pairs: { type: 'string', default: '100' },
      active: { type: 'string', default: '1' },
      writes: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '25' },
      'warmup-ms': { type: 'string', default: '0' },
    },
  });
  const api = values.api;
  const backend = values.backend;
  const n = intArg(values, 'pairs', 1);
  const a = intArg(values, 'active', 1);
  const w = intArg(values, 'writes', 0);
  const rounds = intArg(values, 'rounds', 1);
  const warmupMs = intArg(values, 'warmup-ms', 0);
  if ((api !== 'raw' && api !== 'loop' && api !== 'transport') || a > n) {
    process.stderr.write('pipes worker: need --api raw|loop|transport and --active <= --pairs\n');
    return 2;
  }

  let result;
  try {
    const pairs = openPairs(n, backend === 'select' ? native.FD_SETSIZE : undefined);
    const run = { pairs, backend, active: a, writes: w, rounds, warmupMs };
    result = api === 'loop' ? await runLoop(run) : api === 'transport' ? await runTransport(run) : runRaw(run);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (err instanceof CaseUnavailable || code === 'ERR_FD_OUT_OF_RANGE') {
      const reason = err instanceof CaseUnavailable ? err.reason : 'fd_setsize';
      console.log(JSON.stringify({ error: reason }));
      return reason === 'fd_setsize' ? 3 : 4;
    }
    // The selector's own fd (epoll) or the loop's wakeup fds can be the one that hits the limit.
    if (code === 'EMFILE' || code === 'ENFILE') {
      console.log(JSON.stringify({ error: 'fd_limit' }));
      return 4;
    }
    throw err;
  }
  const us = result.us.map((x) => Math.round(x * 1000) / 1000);
  console.log(
    JSON.stringify({
      backend,
      api,
      n,
      a,
      w,
      rounds,
      warmup_rounds: result.warmupRounds,
      us_per_round: us,
      failures: result.failures,
    }),
  );
  return result.failures === 0 ? 0 : 1;
}

// Exit explicitly: thousands of open fds and the loop's handles need not be torn down one by one.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`pipes worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
