// connectReadPipe / connectWritePipe (DESIGN §6.4): a child process's stdout drives a Protocol
// (dataReceived, eofReceived, connectionLost(null)); a write pipe transport buffers, pauses and
// resumes the producer, half-closes with writeEof() (the pipe closes after the flush) and reports
// a reader that left as connectionLost(EPIPE). Every fd is released afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { cleanup, hold } from '../helpers/resources.js';
import { pipe, type PipeEnd } from '../../src/pipe.js';
import type { Protocol, Transport } from '../../src/transports.js';
import { rejectionOf } from '../helpers/net.js';
import { inMode, modes } from '../helpers/modes.js';

afterEach(cleanup);

/** Runs `node -e code` with `stdin`/`stdout` as given; our copies of the ends are closed. */
function child(code: string, stdin: PipeEnd | 'ignore', stdout: PipeEnd | 'ignore'): ChildProcess {
  const c = spawn(process.execPath, ['-e', code], {
    stdio: [stdin === 'ignore' ? 'ignore' : stdin.fd, stdout === 'ignore' ? 'ignore' : stdout.fd, 'inherit'],
  });
  hold(() => {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  if (stdin !== 'ignore') stdin.close();
  if (stdout !== 'ignore') stdout.close();
  return c;
}

/**
 * The pipes (by inode) behind some ends. Counting fds would not do here: Node opens fds of its own
 * for child processes (libuv's SIGCHLD pipe) at moments of its choosing.
 */
function linksOf(...list: PipeEnd[]): string[] {
  return list.map((e) => readlinkSync(`/proc/self/fd/${e.fd}`));
}

/** Which of `links` some fd of this process still points at. */
function stillOpen(links: string[]): string[] {
  const open = new Set(
    readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    }),
  );
  return links.filter((l) => open.has(l));
}

class Collector implements Protocol {
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  transport!: Transport;
  readonly lost: Promise<Error | null>;
  #lost!: (err: Error | null) => void;
  paused = 0;
  resumed = 0;
  constructor() {
    this.lost = new Promise((resolve) => {
      this.#lost = resolve;
    });
  }
  connectionMade(t: Transport): void {
    this.transport = t;
    this.events.push('made');
  }
  dataReceived(data: Buffer): void {
    this.chunks.push(Buffer.from(data));
  }
  eofReceived(): void {
    this.events.push('eof');
  }
  pauseWriting(): void {
    this.paused++;
  }
  resumeWriting(): void {
    this.resumed++;
  }
  connectionLost(err: Error | null): void {
    this.events.push('lost');
    this.#lost(err);
  }
}

describe.each(modes)('$name: pipe transports', (mode) => {
  test('a child process writing to its stdout drives a read pipe Protocol to EOF', async () => {
    const [r, w] = pipe();
    const ours = linksOf(r);
    child(`for (let i = 0; i < 100; i++) process.stdout.write('line ' + i + '\\n');`, 'ignore', w);
    const p = await inMode(
      mode,
      async (loop) => {
        const [t, proto] = await loop.connectReadPipe(() => new Collector(), r);
        expect(t.pipe).toBe(r);
        expect(await proto.lost).toBeNull();
        return proto;
      },
      15_000,
    );
    expect(p.events).toEqual(['made', 'eof', 'lost']);
    const text = Buffer.concat(p.chunks).toString();
    expect(text.split('\n').length).toBe(101);
    expect(text.startsWith('line 0\nline 1\n')).toBe(true);
    expect(r.closed).toBe(true);
    expect(stillOpen(ours)).toEqual([]);
  });

  test('a write pipe feeds a child 4 MiB with pause/resume, writeEof ends it, the child counts every byte', async () => {
    const [childIn, toChild] = pipe();
    const [fromChild, childOut] = pipe();
    child(
      `let n = 0; process.stdin.on('data', (d) => { n += d.length; }); process.stdin.on('end', () => process.stdout.write(String(n)));`,
      childIn,
      childOut,
    );
    const ours = linksOf(toChild, fromChild);
    const total = 4 << 20;
    const [writer, reader] = await inMode(
      mode,
      async (loop) => {
        const [, reader] = await loop.connectReadPipe(() => new Collector(), fromChild);
        const [t, writer] = await loop.connectWritePipe(() => new Collector(), toChild);
        t.setWriteBufferLimits({ high: 64 * 1024 });
        for (let sent = 0; sent < total; sent += 256 * 1024) t.write(Buffer.alloc(256 * 1024, 1));
        expect(t.getWriteBufferSize()).toBeGreaterThan(0);
        t.writeEof();
        expect(await writer.lost).toBeNull();
        expect(await reader.lost).toBeNull();
        return [writer, reader];
      },
      15_000,
    );
    expect(writer.paused).toBe(1);
    expect(writer.resumed).toBe(1);
    expect(Buffer.concat(reader.chunks).toString()).toBe(String(total));
    expect(toChild.closed && fromChild.closed).toBe(true);
    expect(stillOpen(ours)).toEqual([]);
  });

  test('a write pipe whose reader leaves ends with connectionLost(EPIPE), without writing first', async () => {
    const [r, w] = pipe();
    hold(() => r.close());
    const err = await inMode(mode, async (loop) => {
      const [, proto] = await loop.connectWritePipe(() => new Collector(), w);
      loop.callLater(5, () => r.close());
      return proto.lost;
    });
    expect((err as { code?: string } | null)?.code).toBe('EPIPE');
    expect(w.closed).toBe(true);
  });

  test('connectReadPipe takes a raw fd too; a bad pipe argument or factory is a rejection', async () => {
    const [r, w] = pipe();
    hold(() => w.close());
    await inMode(mode, async (loop) => {
      const [t, proto] = await loop.connectReadPipe(() => new Collector(), r.fd);
      w.write('raw');
      w.close();
      expect(await proto.lost).toBeNull();
      expect(Buffer.concat(proto.chunks).toString()).toBe('raw');
      expect(() => t.socket).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      expect((await rejectionOf(loop.connectReadPipe(() => new Collector(), 'x' as unknown as number))).code).toBe(
        'ERR_INVALID_ARG_TYPE',
      );
      expect((await rejectionOf(loop.connectWritePipe(5 as unknown as () => Protocol, 0))).code).toBe(
        'ERR_INVALID_ARG_TYPE',
      );
    });
    // The transport owned r's fd and closed it: r itself must not close that number again.
  });
});
