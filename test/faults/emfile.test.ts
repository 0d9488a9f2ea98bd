// Fault matrix (issue 9, proof 5): out of fds. Each case runs in a child process whose
// RLIMIT_NOFILE is lowered to 64 (prlimit), so the table fills in a few dozen sockets and the test
// process keeps its own limit. The child imports the built library (dist/, which `npm test`
// builds first), fills its fd table with sockets until socket() fails with EMFILE, and then:
// - accept: clients in this process connect; the server's accept() fails with EMFILE, is counted
//   and reported, accepting pauses, and once the child gives its fillers back the queued clients
//   are accepted and echoed;
// - socket: Socket.tcp(), createConnection and createServer fail with EMFILE (and epoll's Loop
//   itself, which needs an fd), nothing leaks, and after the fillers are freed they all work.
// Meanwhile a bystander connection made before the table filled echoes 256 KiB on the same loop.
// The child reports JSON; its fd count must be back at its baseline at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import { ROOT, ensureBuilt } from '../helpers/cli.js';

const INDEX = join(ROOT, 'dist', 'src', 'index.js');
const NOFILE = 64;

const CHILD = `
import { readdirSync, readlinkSync, writeSync } from 'node:fs';
const [index, backend, mode] = process.argv.slice(1);
const { Loop, Socket } = await import(index);
const out = (o) => writeSync(1, JSON.stringify(o) + '\\n');
const fdCount = () => readdirSync('/proc/self/fd').length - 1;
const fdTable = () => readdirSync('/proc/self/fd').map((fd) => { try { return fd + ' ' + readlinkSync('/proc/self/fd/' + fd); } catch { return fd; } });
const baseline = fdCount();
const baselineTable = fdTable();
const loop = new Loop({ backend });
const sleep = (ms) => new Promise((r) => loop.callLater(ms, r));
const until = async (cond) => { for (let i = 0; i < 1000 && !cond(); i++) await sleep(10); if (!cond()) throw new Error('timed out waiting'); };
let made = 0;
const echo = () => { made++; let t; return { connectionMade(tr) { t = tr; }, dataReceived(d) { t.write(d); } }; };
const srv = await loop.createServer(echo, { host: '127.0.0.1', port: 0 });
const by = Socket.tcp();
await loop.runUntilComplete(loop.sockConnect(by, srv.address));
await loop.runUntilComplete(until(() => srv.connections.size === 1));
const exchange = async (n) => {
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = (i * 7 + (i >> 8)) & 255;
  const sending = loop.sockSendAll(by, data);
  const parts = []; let got = 0;
  while (got < n) { const c = await loop.sockRecv(by, n - got); if (c.length === 0) throw new Error('bystander EOF'); parts.push(c); got += c.length; }
  await sending;
  return Buffer.concat(parts).equals(data);
};
const beforeFill = fdCount();
const fillers = [];
for (;;) {
  try { fillers.push(Socket.tcp()); } catch (err) { if (err.code !== 'EMFILE') throw err; break; }
}
const release = () => { for (const f of fillers.splice(0)) f.close(); };
const result = { fillers: fillers.length, bystanderOk: false };
if (mode === 'accept') {
  const reported = [];
  srv.onAcceptError = (err) => { reported.push(err.code); if (reported.length === 1) loop.callLater(150, release); };
  out({ phase: 'full', port: srv.address.port });
  result.bystanderOk = await loop.runUntilComplete(exchange(256 * 1024));
  // The clients connect, get their echo once the fds are back, and close.
  await loop.runUntilComplete(until(() => made === 4 && srv.connections.size === 1));
  Object.assign(result, { reported, acceptErrors: srv.acceptErrors });
} else {
  const codes = [];
  const code = async (f) => { try { await f(); return 'ok'; } catch (err) { return err.code; } };
  codes.push(await code(() => Socket.tcp()));
  codes.push(await loop.runUntilComplete(code(() => loop.createConnection(echo, srv.address))));
  codes.push(await loop.runUntilComplete(code(() => loop.createServer(echo, { host: '127.0.0.1', port: 0 }))));
  codes.push(backend === 'epoll' ? await code(() => new Loop({ backend })) : 'EMFILE');
  result.bystanderOk = await loop.runUntilComplete(exchange(256 * 1024));
  release();
  const leaked = fdCount() - beforeFill;
  const [t] = await loop.runUntilComplete(loop.createConnection(echo, srv.address));
  t.close();
  Object.assign(result, { codes, leaked });
}
result.bystanderAfter = await loop.runUntilComplete(exchange(64 * 1024));
by.close();
srv.close();
await loop.runUntilComplete(srv.closed);
loop.close();
result.fdsBack = fdCount() === baseline;
if (!result.fdsBack) result.fdDiff = { before: baselineTable, after: fdTable() };
out({ phase: 'done', ...result });
`;

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});
beforeAll(() => ensureBuilt());

/** Runs the child in `mode`; `onFull` runs once it reports that its fd table is full. */
function runChild(
  backend: string,
  mode: 'accept' | 'socket',
  onFull?: (port: number) => Promise<void>,
): Promise<Record<string, unknown>> {
  const child = spawn(
    'prlimit',
    [`--nofile=${NOFILE}:${NOFILE}`, process.execPath, '--input-type=module', '-e', CHILD, '--', INDEX, backend, mode],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child did not finish in 15 s; stderr: ${stderr}`)), 15_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { phase: string; port?: number };
      if (msg.phase === 'full') onFull?.(msg.port!).catch(reject);
      if (msg.phase === 'done') {
        clearTimeout(timer);
        resolve(msg);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the child exited with ${code}; stderr: ${stderr}`));
    });
  });
}

/** Connects, sends `msg`, expects it back, closes. */
function echoClient(port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(msg));
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      if (got.length >= msg.length) s.end();
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

describe.each(availableBackends())('%s loop: out of fds (RLIMIT_NOFILE 64, in a child process)', (backend) => {
  test('accept() hits EMFILE: reported and counted, accepting pauses, the queued clients are served once fds are free', async () => {
    let echoes: Promise<string[]> | undefined;
    const result = await runChild(backend, 'accept', async (port) => {
      echoes = Promise.all([1, 2, 3].map((i) => echoClient(port, `client ${i}`)));
    });
    expect(await echoes).toEqual(['client 1', 'client 2', 'client 3']);
    expect(result.fillers).toBeGreaterThan(10);
    expect((result.reported as string[])[0]).toBe('EMFILE');
    expect(result.acceptErrors).toBeGreaterThanOrEqual(1);
    expect(result.fdDiff).toBeUndefined(); // else it shows both fd tables
    expect([result.bystanderOk, result.bystanderAfter, result.fdsBack]).toEqual([true, true, true]);
  });

  test('socket() hits EMFILE: Socket.tcp, createConnection, createServer (and an epoll Loop) fail cleanly and work again once fds are free', async () => {
    const result = await runChild(backend, 'socket');
    expect(result.codes).toEqual(['EMFILE', 'EMFILE', 'EMFILE', 'EMFILE']);
    expect(result.leaked).toBe(0);
    expect(result.fdDiff).toBeUndefined(); // else it shows both fd tables
    expect([result.bystanderOk, result.bystanderAfter, result.fdsBack]).toEqual([true, true, true]);
  });
});
