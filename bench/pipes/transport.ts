// The pipes method through transports on the Loop's batched path: each pair's read end is a
// Transport (Loop.connectAcceptedSocket) whose protocol counts the byte and writes one to the next
// pair through that pair's write-end Transport. The chained write is queued and goes out with the
// next iteration's one native call, which also waits and reads the next byte: one N-API crossing
// per hop where loop.ts (reader callbacks doing their own recv and send) makes three. The write
// ends do not read (pauseReading), so select and poll scan only the read ends, as pipes.c does.
import { Loop } from '../../src/loop.js';
import type { BackendName } from '../../src/selectors.js';
import { Socket } from '../../src/socket.js';
import type { Protocol, Transport } from '../../src/transports.js';
import { timeRounds } from './loop.js';
import { Chain, type PipesOutcome, type PipesRun } from './pairs.js';

/** Runs unrecorded rounds for `warmupMs`, then `rounds` recorded ones. */
export async function runTransport(run: PipesRun): Promise<PipesOutcome> {
  const { pairs } = run;
  const loop = new Loop({ backend: run.backend as BackendName });
  const chain = new Chain(pairs); // seeds each round and keeps the counters
  const byte = new Uint8Array([0x65]); // 'e', as pipes.c sends
  const writers: Transport[] = [];
  let failures = 0;
  const lost = (err: Error | null) => {
    // A transport ends only on a failed syscall here: count it and end the round.
    failures++;
    if (err !== null) console.error(err);
    loop.stop();
  };
  for (let i = 0; i < pairs.n; i++) {
    const [w] = await loop.connectAcceptedSocket(() => ({ connectionLost: lost }), new Socket(pairs.wfds[i], 'unix'));
    w.pauseReading();
    writers.push(w);
  }
  for (let i = 0; i < pairs.n; i++) {
    const next = i + 1 < pairs.n ? i + 1 : 0;
    const reader: Protocol = {
      dataReceived(data) {
        chain.count += data.length;
        if (chain.writes !== 0) {
          writers[next].write(byte);
          chain.fired++;
          chain.writes--;
        }
        if (chain.done) loop.stop();
      },
      connectionLost: lost,
    };
    await loop.connectAcceptedSocket(() => reader, new Socket(pairs.rfds[i], 'unix'));
  }
  return timeRounds(run, loop, chain, () => failures);
}
