// Echo server as an asyncio-style Protocol: the transport buffers what the kernel cannot take
// yet and tells us to pause reading when the peer does not keep up.
import { Loop, type Protocol, type Server, type Transport } from '../src/index.js';

class Echo implements Protocol {
  #transport!: Transport;
  connectionMade(t: Transport): void {
    this.#transport = t;
  }
  dataReceived(data: Buffer): void {
    this.#transport.write(data);
  }
  pauseWriting(): void {
    this.#transport.pauseReading();
  } // backpressure: stop reading
  resumeWriting(): void {
    this.#transport.resumeReading();
  }
}

export function startProtocolEcho(loop: Loop, port = 0): Promise<Server> {
  return loop.createServer(() => new Echo(), { host: '127.0.0.1', port });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const loop = new Loop();
  const server = await startProtocolEcho(loop, 7007);
  console.log('echo (protocol) on', server.address);
  await loop.run();
}
