// A Node http server and an iomux echo server in one process: loop.attach() lets Node's own event
// loop drive iomux (on any backend; select and poll wait on a native thread meanwhile).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Loop, type BackendName, type Protocol, type Server, type Transport } from '../src/index.js';

class Echo implements Protocol {
  #transport!: Transport;
  connectionMade(t: Transport): void {
    this.#transport = t;
  }
  dataReceived(data: Buffer): void {
    this.#transport.write(data);
  }
}

export interface Servers {
  echo: Server;
  web: http.Server;
  webPort: number;
}

/** Attaches `loop`, then starts both; the web page counts the echo server's connections. */
export async function startEchoAndWeb(loop: Loop, echoPort = 0, webPort = 0): Promise<Servers> {
  loop.attach();
  const echo = await loop.createServer(() => new Echo(), { host: '127.0.0.1', port: echoPort });
  const web = http.createServer((_req, res) => res.end(`echo connections: ${echo.connections.size}\n`));
  await new Promise<void>((resolve) => web.listen(webPort, '127.0.0.1', resolve));
  return { echo, web, webPort: (web.address() as AddressInfo).port };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const loop = new Loop({ backend: process.argv[2] as BackendName | undefined }); // select, poll or epoll; default: the best
  const { echo, webPort } = await startEchoAndWeb(loop, 7007, 8080);
  console.log('echo on', echo.address, '- http on port', webPort, '- both in one Node loop');
}
