// The fault matrix's common frame (issue 9, proof 5). Every fault runs beside a bystander: an
// echo connection of its own, on the same loop, that streams a fresh pattern through the server
// before, during and after the fault and compares every byte. Each test then checks the three
// promises a loop owes after any fault: it keeps running (the bystander finishes on it), no other
// connection loses a byte (the bystander's compare), and the fd count returns to its baseline
// (taken before the loop was made, compared after it is closed).
import { expect } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket } from '../../src/socket.js';
import type { Protocol, Server } from '../../src/transports.js';

import { pattern } from '../helpers/net.js';
import { openFdCount } from '../helpers/resources.js';

/** A protocol that writes back whatever it receives. */
export function echoProtocol(): Protocol {
  let t: Parameters<NonNullable<Protocol['connectionMade']>>[0];
  return {
    connectionMade(transport) {
      t = transport;
    },
    dataReceived(data) {
      t.write(data);
    },
  };
}

/** An echo server and one client on `loop` whose traffic must survive every fault. */
export class Bystander {
  readonly loop: Loop;
  readonly server: Server;
  readonly client: Socket;
  /** Bytes sent, echoed back and found equal so far. */
  verified = 0;
  #seed = 0;

  private constructor(loop: Loop, server: Server, client: Socket) {
    this.loop = loop;
    this.server = server;
    this.client = client;
  }

  static async start(loop: Loop): Promise<Bystander> {
    const server = await loop.createServer(echoProtocol, { host: '127.0.0.1', port: 0 });
    const client = Socket.tcp();
    await loop.runUntilComplete(loop.sockConnect(client, server.address as { host: string; port: number }));
    const b = new Bystander(loop, server, client);
    await loop.runUntilComplete(b.exchange(1024));
    return b;
  }

  /** Sends `n` bytes of a fresh pattern and reads them back; rejects on EOF or any difference. */
  async exchange(n = 256 * 1024): Promise<void> {
    const data = pattern(n, ++this.#seed);
    const sending = this.loop.sockSendAll(this.client, data);
    let got = 0;
    while (got < n) {
      const chunk = await this.loop.sockRecv(this.client, Math.min(64 * 1024, n - got));
      if (chunk.length === 0) throw new Error(`the bystander got EOF after ${got} of ${n} bytes`);
      if (!chunk.equals(data.subarray(got, got + chunk.length))) {
        throw new Error(`the bystander got wrong bytes at offset ${got}`);
      }
      got += chunk.length;
    }
    await sending;
    this.verified += n;
  }

  /** Closes the client and the server and waits until the server has let go of everything. */
  async close(): Promise<void> {
    this.client.close();
    this.server.close();
    await this.loop.runUntilComplete(this.server.closed);
  }
}

/**
 * Runs `fault` on a fresh loop from `open` beside a bystander exchanging data, then checks the
 * three promises. `fault` gets the loop and the bystander and returns what must finish.
 */
export async function withBystander(
  open: () => Loop,
  fault: (loop: Loop, by: Bystander) => Promise<unknown>,
): Promise<void> {
  const baseline = openFdCount();
  const loop = open();
  const by = await Bystander.start(loop);
  const during = by.exchange(512 * 1024);
  await loop.runUntilComplete(Promise.all([during, fault(loop, by)]));
  await loop.runUntilComplete(by.exchange(64 * 1024)); // and after
  expect(by.verified).toBe(1024 + 512 * 1024 + 64 * 1024);
  await by.close();
  loop.close();
  expect(openFdCount()).toBe(baseline);
}
