// bench/report/env.ts: where the package is, which tools the run has (a missing one carries the
// reason the notes print), and the machine facts written into latest.json.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  benchProgram,
  BUILD_BENCH_HINT,
  discoverEnv,
  machineInfo,
  packageRoot,
  type BenchEnv,
} from '../../bench/report/env.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sh = (script: string): string => execFileSync('sh', ['-c', script], { encoding: 'utf8' }).trim();

describe('packageRoot', () => {
  test('is the folder holding binding.gyp', () => {
    expect(packageRoot()).toBe(repo);
    expect(existsSync(join(packageRoot(), 'binding.gyp'))).toBe(true);
  });
});

describe('discoverEnv', () => {
  const env = discoverEnv();

  test('finds the references and loadgen the build made, or says how to build them', () => {
    for (const [tool, name] of [
      [env.pipesRef, 'pipes_ref'],
      [env.echoRef, 'echo_ref'],
      [env.loadgen, 'loadgen'],
    ] as const) {
      const built = benchProgram(repo, name);
      if (existsSync(built)) expect(tool).toEqual({ path: built, missing: '' });
      else expect(tool).toEqual({ path: null, missing: `${built} not found (${BUILD_BENCH_HINT})` });
    }
  });

  test('resolves python3 to the interpreter itself, or records that it is missing', () => {
    if (env.python.path === null) {
      expect(env.python.missing).toBe('python3 not found on PATH');
      return;
    }
    expect(env.python.missing).toBe('');
    expect(env.python.path).toBe(sh('python3 -c "import sys; print(sys.executable)"'));
  });

  test.each([
    ['uvloop', 'python3-uvloop'],
    ['gevent', 'python3-gevent'],
  ] as const)('finds a Python that imports %s, or says which package to install', (module, pkg) => {
    const tool = env[module];
    if (tool.path === null) {
      expect(tool.missing).toMatch(new RegExp(`^${pkg} not installed \\(apt-get install ${pkg}; `));
      expect(tool.found).toBeNull();
      return;
    }
    expect(tool.missing).toBe('');
    expect(tool.found?.executable).toBe(tool.path);
    // The interpreter recorded is one that really imports the module.
    expect(() => execFileSync(tool.path!, ['-c', `import ${module}`], { stdio: 'ignore' })).not.toThrow();
  });

  test('reports taskset as present or, when absent, that processes are not pinned', () => {
    const found = sh('command -v taskset || true');
    expect(env.taskset).toEqual(
      found ? { path: found, missing: '' } : { path: null, missing: 'taskset not found: processes are not pinned' },
    );
  });

  test('takes the clock tick rate from getconf CLK_TCK', () => {
    expect(env.clkTck).toBe(Number(sh('getconf CLK_TCK')));
  });
});

describe('machineInfo', () => {
  const env = discoverEnv();

  test('records this machine: CPUs, Node, platform and the tick rate', () => {
    const m = machineInfo(env);
    expect(m.cores).toBe(cpus().length);
    expect(m.node).toBe(process.version);
    expect(m.platform).toBe(`${process.platform}-${process.arch}`);
    expect(m.clkTck).toBe(env.clkTck);
    expect(m.taskset).toBe(env.taskset.path !== null);
  });

  test('reads the soft and hard open-file limits the shell reports', () => {
    const m = machineInfo(env);
    expect([m.fdSoftLimit, m.fdHardLimit]).toEqual([sh('ulimit -Sn'), sh('ulimit -Hn')]);
  });

  const prlimit = sh('command -v prlimit || true');
  test.skipIf(prlimit === '')('tells the soft limit from the hard one when they differ', () => {
    const [soft, hard] = [
      sh(`prlimit --pid ${process.pid} --nofile --noheadings --output SOFT`),
      sh(`prlimit --pid ${process.pid} --nofile --noheadings --output HARD`),
    ];
    // Lower this test process's soft limit for a moment (never below what it has open), then restore it.
    const lower = String(Math.max(1024, Math.floor(Number(soft) / 2)));
    if (lower === soft || soft === 'unlimited') return;
    execFileSync(prlimit, ['--pid', String(process.pid), `--nofile=${lower}:`]);
    try {
      expect([machineInfo(env).fdSoftLimit, machineInfo(env).fdHardLimit]).toEqual([lower, hard]);
    } finally {
      execFileSync(prlimit, ['--pid', String(process.pid), `--nofile=${soft}:`]);
    }
  });

  test('asks the Python it found for its version, and records null without one', () => {
    const withPython = machineInfo(env);
    if (env.python.path !== null) expect(withPython.python).toMatch(/^3\.\d+\.\d+/);
    const without: BenchEnv = { ...env, python: { path: null, missing: 'python3 not found on PATH' } };
    expect(machineInfo(without).python).toBeNull();
  });

  test("records uvloop's and gevent's versions with their Python's, and null for one not found", () => {
    const found = { executable: '/x/python3', moduleVersion: '0.17.0', pythonVersion: '3.11.2' };
    const m = machineInfo({
      ...env,
      uvloop: { path: found.executable, missing: '', found },
      gevent: { path: null, missing: 'python3-gevent not installed', found: null },
    });
    expect([m.uvloop, m.gevent]).toEqual(['0.17.0 (Python 3.11.2)', null]);
  });
});
