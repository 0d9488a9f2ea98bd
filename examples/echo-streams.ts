// Echo server with asyncio-style streams: each connection reads chunks from a StreamReader and
// writes them back; `await writer.drain()` waits while the peer is not keeping up.
import { Loop, type Server, type StreamReader, type StreamWriter } from '../src/index.js';

async function echo(reader: StreamReader, writer: StreamWriter): Promise<void> {
  try {
    for await (const chunk of reader) {
      writer.write(chunk);
      await writer.drain(); // backpressure: stop reading until the write buffer drains
    }
  } catch {
    // reset by peer: nothing to answer
  } finally {
    writer.close();
  }
}

export function startStreamsEcho(loop: Loop, port = 0): Promise<Server> {
  return loop.startServer(echo, { host: '127.0.0.1', port });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const loop = new Loop();
  const server = await startStreamsEcho(loop, 7007);
  console.log('echo (streams) on', server.address);
  await loop.run();
}
