// bench/report/exec.ts: running a benchmark program that prints one JSON object, never throwing
// (a crash, a timeout or no JSON is a result with a `problem`), plus the stderr line a failure
// note quotes and the taskset prefix. The programs here are short sh scripts.
import { describe, expect, test } from 'vitest';
import { lastLine, pinned, runJson } from '../../bench/report/exec.js';

const script = (sh: string): [string, string[]] => ['/bin/sh', ['-c', sh]];

describe('runJson', () => {
  test('hands back the last stdout line that is a JSON object, with exit code 0 and no problem', async () => {
    const run = await runJson(
      ...script(`echo starting; echo '{"a": 1}'; echo '{"b": 2}'; echo '[3, 4]'; echo 42; echo done`),
      10_000,
    );
    expect(run).toEqual({ json: { b: 2 }, code: 0, problem: '', stderr: '' });
  });

  test('keeps the JSON and the exit code of a program that fails after printing it', async () => {
    const run = await runJson(...script(`echo '{"error": "fd_setsize"}'; exit 3`), 10_000);
    expect(run.json).toEqual({ error: 'fd_setsize' });
    expect(run.code).toBe(3);
    expect(run.problem).toBe('');
  });

  test('no JSON on stdout is a problem naming the exit code and the telling stderr line', async () => {
    const run = await runJson(
      ...script('echo "warming up" >&2; echo "pipes: socketpair failed: EMFILE" >&2; echo bye >&2; exit 1'),
      10_000,
    );
    expect(run.json).toBeNull();
    expect(run.code).toBe(1);
    expect(run.problem).toBe('no JSON on stdout (exit 1): pipes: socketpair failed: EMFILE');
    expect(run.stderr).toContain('warming up');
  });

  test('a silent program that exits 0 is still a problem: nothing to read', async () => {
    const run = await runJson(...script('true'), 10_000);
    expect(run).toEqual({ json: null, code: 0, problem: 'no JSON on stdout (exit 0)', stderr: '' });
  });

  test('a program that outlives its timeout is killed and reported as timed out', async () => {
    const t0 = performance.now();
    // exec, so the kill reaches the sleeper holding stdout open, not only the shell.
    const run = await runJson(...script(`echo '{"early": true}'; exec sleep 60`), 300);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(run.code).toBeNull();
    expect(run.problem).toBe('timed out after 0.3 s');
    expect(run.json).toEqual({ early: true });
  });

  test('a program that cannot be started is a problem, not a rejection', async () => {
    const run = await runJson('/nonexistent/iomux-bench-program', ['--x'], 10_000);
    expect(run.json).toBeNull();
    expect(run.code).toBeNull();
    expect(run.problem).toMatch(/ENOENT/);
  });

  test('a program killed by a signal is a problem with no exit code', async () => {
    const run = await runJson(...script('kill -SEGV $$'), 10_000);
    expect(run.code).toBeNull();
    expect(run.problem).toMatch(/^Command failed: /);
  });
});

describe('lastLine', () => {
  test('prefers the last line naming an error over a later line that does not', () => {
    expect(lastLine('Error: first\nfailed to bind\n    at foo (x.js:1)\n')).toBe('failed to bind');
  });

  test.each(['errno 24', 'cannot open', 'FAILED', 'TypeError: x'])('counts %j as naming an error', (line) => {
    expect(lastLine(`${line}\nsomething else`)).toBe(line);
  });

  test('falls back to the last non-blank line, trimmed', () => {
    expect(lastLine('one\n  two  \n\n  \n')).toBe('two');
  });

  test('skips the "Node.js v20.x" trailer Node prints after an uncaught exception', () => {
    expect(lastLine(`    at main (x.js:1:1)\n\n${`Node.js ${process.version}`}\n`)).toBe('at main (x.js:1:1)');
  });

  test('cuts a long line to 200 characters', () => {
    expect(lastLine(`error ${'x'.repeat(500)}`)).toHaveLength(200);
  });

  test('is empty for empty or blank text', () => {
    expect(lastLine('')).toBe('');
    expect(lastLine('\n \n')).toBe('');
  });
});

describe('pinned', () => {
  test('prefixes taskset -c CPU when both taskset and a CPU are given, CPU 0 included', () => {
    expect(pinned('/usr/bin/taskset', 1, 'srv', ['--port', '0'])).toEqual([
      '/usr/bin/taskset',
      ['-c', '1', 'srv', '--port', '0'],
    ]);
    expect(pinned('/usr/bin/taskset', 0, 'lg', [])).toEqual(['/usr/bin/taskset', ['-c', '0', 'lg']]);
  });

  test('runs the command as is without taskset or without a CPU', () => {
    expect(pinned(null, 1, 'srv', ['a'])).toEqual(['srv', ['a']]);
    expect(pinned('/usr/bin/taskset', null, 'srv', ['a'])).toEqual(['srv', ['a']]);
  });
});
