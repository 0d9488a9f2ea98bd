// Echo server with raw readiness callbacks: the loop says "readable", we do the syscalls.
import { Loop, Socket } from '../src/index.js';

export function startCallbackEcho(loop: Loop, port = 0): Socket {
  const listener = Socket.tcp();
  listener.setReuseAddress();
  listener.bind({ host: '127.0.0.1', port });
  listener.listen();
  const buf = Buffer.allocUnsafe(64 * 1024);

  loop.addReader(listener, () => {
    for (let conn = listener.accept(); conn !== null; conn = listener.accept()) {
      const c = conn;
      loop.addReader(c, () => {
        const n = c.recvInto(buf);
        if (n === null) return; // spurious wake-up
        if (n > 0 && c.send(buf, 0, n) === n) return;
        // EOF, or the peer is not reading: a real server would queue (see the Protocol example).
        loop.removeReader(c);
        c.close();
      });
    }
  });
  return listener;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const loop = new Loop();
  const listener = startCallbackEcho(loop, 7007);
  console.log('echo (callbacks) on', listener.localAddress);
  await loop.run();
}
