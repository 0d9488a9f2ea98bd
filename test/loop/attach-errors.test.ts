// attach() on select and poll when the wait thread cannot start gets a clear error, never a crash,
// hang or fd leak: out of fds, its eventfd fails with EMFILE; with every
// fd below FD_SETSIZE taken, select's wake fd could not be watched, so ERR_FD_OUT_OF_RANGE. Either
// way the loop stays usable (owned, or attached once fds are free) and nothing is left open. Each
// case runs in a child under `prlimit --nofile`, from dist/ (built by `npm test`).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { ROOT, ensureBuilt } from '../helpers/cli.js';

const INDEX = pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href;

beforeAll(ensureBuilt);

/** Runs `body` (an ES module that sees Loop, socketpair and fdCount) with `nofile` fds; returns its stdout lines. */
function run(nofile: number, body: string): { status: number | null; lines: string[]; stderr: string } {
  const script =
    `import { closeSync, openSync, readdirSync } from 'node:fs';\nimport { Loop, socketpair } from ${JSON.stringify(INDEX)};\n` +
    `const fdCount = () => readdirSync('/proc/self/fd').length;\n${body}`;
  const r = spawnSync(
    'prlimit',
    [`--nofile=${nofile}:${nofile}`, process.execPath, '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return { status: r.status, lines: r.stdout.trim().split('\n'), stderr: r.stderr };
}

// Takes every free fd: socketpairs, then single fds, since how many fds the child starts with (so whether an
// odd one is left over) depends on the machine. A CI host that inherited one more fd showed that gap.
const FILL = `
const held = [];
for (;;) { try { held.push(...socketpair()); } catch (err) { if (err.code !== 'EMFILE') throw err; break; } }
const spare = [];
for (;;) { try { spare.push(openSync('/dev/null', 'r')); } catch (err) { if (err.code !== 'EMFILE') throw err; break; } }
`;

describe.each(['select', 'poll'] as const)('%s attach() without the fds its wait thread needs', (backend) => {
  // Both parities of the fd limit, so an odd fd left over by the socketpairs is covered either way.
  test.each([256, 257])(
    'out of fds (limit %i): EMFILE from eventfd, not attached; once one is free, attach() works and detach() gives it back',
    (nofile) => {
      const { status, lines, stderr } = run(
        nofile,
        `
      const loop = new Loop({ backend: '${backend}' });
      ${FILL}
      try { loop.attach(); console.log('attached?'); } catch (err) { console.log(err.code, err.syscall, loop.isAttached()); }
      held.pop().close();
      const before = fdCount();
      loop.attach();
      console.log('attached', loop.isAttached());
      loop.detach();
      console.log('fds back', fdCount() === before);
      for (const s of held) s.close();
      for (const fd of spare) closeSync(fd);
      loop.close();`,
      );
      expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
      expect(lines).toEqual(['EMFILE eventfd false', 'attached true', 'fds back true']);
    },
  );
});

test('select: every fd below FD_SETSIZE taken, attach() refuses with ERR_FD_OUT_OF_RANGE and leaks nothing; poll attaches', () => {
  const { status, lines, stderr } = run(
    2048,
    `
    const held = [];
    while (held.length === 0 || held[held.length - 1].fileno() < 1100) held.push(...socketpair());
    for (const s of held) if (s.fileno() >= 1024) s.close();  // free fds remain, all >= FD_SETSIZE
    const loop = new Loop({ backend: 'select' });
    const before = fdCount();
    let outcome = 'attached?';
    try { loop.attach(); } catch (err) { outcome = [err.code, err instanceof RangeError, loop.isAttached()].join(' '); }
    const after = fdCount();  // before the first console.log, which opens stdout's own fd
    console.log(outcome);
    console.log('no leak', after === before);
    const other = new Loop({ backend: 'poll' });
    other.attach();
    console.log('poll attached', other.isAttached());
    other.close();
    loop.close();
    for (const s of held) if (!s.closed) s.close();`,
  );
  expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
  expect(lines).toEqual(['ERR_FD_OUT_OF_RANGE true false', 'no leak true', 'poll attached true']);
});
