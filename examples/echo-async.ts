// Echo server in async/await style ("switch on I/O", like gevent): each connection is a plain
// loop that awaits its reads and writes; the event loop switches between them.
import { Loop, Socket } from '../src/index.js';

async function serve(loop: Loop, conn: Socket): Promise<void> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  try {
    for (;;) {
      const n = await loop.sockRecvInto(conn, buf);
      if (n === 0) break;
      await loop.sockSendAll(conn, buf.subarray(0, n));
    }
  } catch {
    // reset by peer: nothing to answer
  } finally {
    conn.close();
  }
}

export async function acceptForever(loop: Loop, listener: Socket): Promise<void> {
  for (;;) void serve(loop, await loop.sockAccept(listener));
}

export function listen(port = 0): Socket {
  const listener = Socket.tcp();
  listener.setReuseAddress();
  listener.bind({ host: '127.0.0.1', port });
  listener.listen();
  return listener;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const loop = new Loop();
  const listener = listen(7007);
  console.log('echo (async) on', listener.localAddress);
  await loop.runUntilComplete(acceptForever(loop, listener));
}
