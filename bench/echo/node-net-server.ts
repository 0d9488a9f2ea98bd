// Node's own `net` echo server, the baseline iomux's servers are compared with: what a Node
// program gets without iomux. Idiomatic and nothing more: pipe() echoes with backpressure,
// TCP_NODELAY as every other server in the benchmark sets it.
//   node dist/bench/echo/node-net-server.js --port P     (prints "listening <port>")
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`node-net-server: --port must be an integer from 0 to 65535, got '${values.port}'\n`);
  process.exit(2);
}

const server = createServer({ noDelay: true }, (sock) => {
  sock.on('error', () => sock.destroy()); // a reset from the client is not the server's failure
  sock.pipe(sock);
});
server.listen({ port, host: values.host }, () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr !== null ? addr.port : port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
