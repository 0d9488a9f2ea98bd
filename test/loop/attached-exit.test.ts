// A finished attached program exits by itself (DESIGN §6.2, issue 12 item 2): wherever the last
// work is removed — inside an iomux callback or from a Node callback (a setTimeout, an http
// handler) — an attached loop with nothing left stops holding Node's event loop. Each case runs
// as a child process (from dist/, which `npm test` builds first) that must print "done" and exit
// with code 0 on its own; one that hangs is killed after a generous bound and fails.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { ROOT, ensureBuilt } from '../helpers/cli.js';
import { attachable } from './helpers.js';

const INDEX = pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href;
/** Far above a normal run (~100 ms); only a process that would never exit reaches it. */
const HANG_MS = 15_000;

beforeAll(ensureBuilt);

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  hung: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `body` as an ES module after attaching a Loop on `backend`; the module sees `loop`. */
function runAttached(backend: string, body: string): Promise<Outcome> {
  const script = [
    `import { Loop, Socket, socketpair } from ${JSON.stringify(INDEX)};`,
    `import net from 'node:net';`,
    `import http from 'node:http';`,
    `const loop = new Loop({ backend: ${JSON.stringify(backend)} });`,
    `loop.attach();`,
    body,
  ].join('\n');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, HANG_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, hung, stdout, stderr });
    });
  });
}

function expectExitedByItself(o: Outcome): void {
  expect(o.hung, `still alive after ${HANG_MS} ms\nstdout: ${o.stdout}\nstderr: ${o.stderr}`).toBe(false);
  expect({ code: o.code, stderr: o.stderr }).toEqual({ code: 0, stderr: '' });
  expect(o.stdout).toBe('done\n');
}

// An iomux echo server and a Node client that has had its one echo: `finish` runs in the client's
// 'data' handler (a Node callback) with `server` and the server-side `transport` in scope.
const ONE_EXCHANGE = (finish: string) => `
let transport;
const server = await loop.createServer(() => ({
  connectionMade(t) { transport = t; },
  dataReceived(d) { transport.write(d); },
}), { host: '127.0.0.1', port: 0 });
const client = net.connect(server.address.port, '127.0.0.1', () => client.write('ping'));
client.on('data', () => { ${finish} });
client.on('end', () => client.destroy());
`;

describe.each(attachable)('%s attached: a finished program exits by itself', (backend) => {
  test('the last reader removed in its own callback', async () => {
    expectExitedByItself(
      await runAttached(
        backend,
        `
      const [a, b] = socketpair();
      loop.addReader(a, () => { a.recvInto(Buffer.alloc(8)); loop.removeReader(a); a.close(); b.close(); console.log('done'); });
      b.send(Buffer.from('x'));`,
      ),
    );
  });

  test('the last reader removed from a setTimeout', async () => {
    expectExitedByItself(
      await runAttached(
        backend,
        `
      const [a, b] = socketpair();
      loop.addReader(a, () => {
        a.recvInto(Buffer.alloc(8));
        setTimeout(() => { loop.removeReader(a); a.close(); b.close(); console.log('done'); }, 1);
      });
      b.send(Buffer.from('x'));`,
      ),
    );
  });

  test('the last writer removed from a setTimeout', async () => {
    expectExitedByItself(
      await runAttached(
        backend,
        `
      const [a, b] = socketpair();
      let once = false;
      loop.addWriter(a, () => {
        if (once) return;
        once = true;
        setTimeout(() => { loop.removeWriter(a); a.close(); b.close(); console.log('done'); }, 1);
      });`,
      ),
    );
  });

  test('the last timer cancelled from a setTimeout (a far deadline, and Infinity)', async () => {
    expectExitedByItself(
      await runAttached(
        backend,
        `
      const far = loop.callLater(1e9, () => console.log('fired'));
      const never = loop.callLater(Infinity, () => console.log('fired'));
      setTimeout(() => { far.cancel(); never.cancel(); console.log('done'); }, 20);`,
      ),
    );
  });

  test('Server.close() from an http handler, after its one connection ended', async () => {
    expectExitedByItself(
      await runAttached(
        backend,
        `
      const web = http.createServer((req, res) => {
        server.close();
        res.end('ok');
        web.close();
      });
      web.listen(0, '127.0.0.1');
      ${ONE_EXCHANGE(`client.end();`)}
      client.on('close', () => {
        http.get({ host: '127.0.0.1', port: web.address().port, agent: false }, (res) => {
          res.resume();
          res.on('end', () => console.log('done'));
        });
      });`,
      ),
    );
  });

  test('Transport.close() and Server.close() from a setTimeout', async () => {
    expectExitedByItself(
      await runAttached(
        backend,
        ONE_EXCHANGE(`
      setTimeout(() => { transport.close(); server.close(); console.log('done'); }, 1);`),
      ),
    );
  });

  test('stop() from a setTimeout, with a reader still registered', async () => {
    expectExitedByItself(
      await runAttached(
        backend,
        `
      const [a, b] = socketpair();
      loop.addReader(a, () => { a.recvInto(Buffer.alloc(8)); });
      b.send(Buffer.from('x'));
      setTimeout(() => { loop.stop(); console.log(loop.isAttached() ? 'still attached' : 'done'); }, 20);`,
      ),
    );
  });
});
