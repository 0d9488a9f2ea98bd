// `iomux echo --embedded` (issue 12 item 5): the same echo server driven by Node's own event loop
// (Loop.attach()) on every backend and style — select and poll through their wait thread — and
// the same graceful stop: SIGTERM ends it with exit 0, leaving nothing listening.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import { connect, ensureBuilt, expectRefused, parseListening, roundTrip, startEcho } from '../helpers/cli.js';
import { cleanup } from '../helpers/resources.js';
import { STYLES } from '../../src/echo/options.js';

beforeAll(ensureBuilt, 150_000);
afterEach(cleanup);

const BACKENDS = availableBackends().filter((b) => b !== 'kqueue'); // kqueue: not on this CI (Linux)

/** Larger than any socket buffer: partial writes are queued and resumed. */
const BIG = Buffer.alloc(512 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 13 + (i >> 9)) & 0xff;

describe.each(STYLES)('--embedded, style %s', (style) => {
  it.each(BACKENDS)(
    'backend %s: echoes two clients from inside Node, stops on SIGTERM with exit 0',
    async (backend) => {
      const { proc, port, line } = await startEcho(['--embedded', '--style', style, '--backend', backend]);
      expect(parseListening(line)).toEqual({ host: '127.0.0.1', port, backend, style, workers: 1 });
      const a = await connect({ port });
      const b = await connect({ port });
      for (let i = 0; i < 10; i++) expect((await roundTrip(i % 2 ? a : b, `msg ${i}`)).toString()).toBe(`msg ${i}`);
      expect((await roundTrip(a, BIG, 8000)).equals(BIG)).toBe(true);
      a.destroy();
      b.destroy();
      proc.child.kill('SIGTERM');
      expect(await proc.waitForExit()).toEqual({ code: 0, signal: null });
      await expectRefused(port);
    },
  );
});

describe('--embedded with --workers', () => {
  it('every worker serves from its own Node loop, and SIGTERM stops them all with exit 0', async () => {
    const { proc, port } = await startEcho(['--embedded', '--workers', '2', '--backend', 'poll']);
    const clients = await Promise.all([0, 1, 2, 3].map(() => connect({ port })));
    for (const [i, c] of clients.entries()) expect((await roundTrip(c, `w${i}`)).toString()).toBe(`w${i}`);
    for (const c of clients) c.destroy();
    proc.child.kill('SIGTERM');
    expect(await proc.waitForExit(8000)).toEqual({ code: 0, signal: null });
  });
});
