// What the benchmarks run on and with: the machine (for the JSON), and the tools found on it
// (reference binaries, python3, the Pythons that have uvloop and gevent, taskset). A tool that
// is missing is recorded with the reason, so the suites skip its column with a note instead of
// failing.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonWith, PYTHON_OVERRIDE_VAR, type PythonModuleTool } from './python.js';

export interface Tool {
  /** Absolute path, or null when the tool is missing. */
  readonly path: string | null;
  /** Why it is missing (shown in the notes), or '' when present. */
  readonly missing: string;
}

export interface BenchEnv {
  readonly root: string;
  readonly pipesRef: Tool;
  readonly echoRef: Tool;
  readonly loadgen: Tool;
  /** The real interpreter behind `python3` (pyenv shims resolved, so the PID we watch is Python's). */
  readonly python: Tool;
  /** A Python that imports uvloop / gevent (IOMUX_PYTHON, else python3, else /usr/bin/python3). */
  readonly uvloop: PythonModuleTool;
  readonly gevent: PythonModuleTool;
  readonly taskset: Tool;
  /** Clock ticks per second of /proc/PID/stat's utime (`getconf CLK_TCK`). */
  readonly clkTck: number;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  kernel: string;
  platform: string;
  node: string;
  python: string | null;
  /** uvloop's and gevent's versions and the Python they run on, e.g. "0.17.0 (Python 3.11.2)". */
  uvloop: string | null;
  gevent: string | null;
  fdSoftLimit: string;
  fdHardLimit: string;
  clkTck: number;
  taskset: boolean;
}

/** The iomux package root: the first ancestor of this file holding binding.gyp. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'binding.gyp'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bench: cannot find the iomux package root (binding.gyp)');
    dir = parent;
  }
  return dir;
}

function run(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

function executable(path: string, hint: string): Tool {
  try {
    accessSync(path, constants.X_OK);
    return { path, missing: '' };
  } catch {
    return { path: null, missing: `${path} not found (${hint})` };
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Where bench/Makefile puts the C programs (pipes_ref, echo_ref, loadgen). */
export function benchProgram(root: string, name: string): string {
  return join(root, 'bench', 'build', name);
}

/** What the notes say when a C program is missing. */
export const BUILD_BENCH_HINT = 'build it with `npm run build:bench`';

export function discoverEnv(): BenchEnv {
  const root = packageRoot();
  const rel = (name: string): string => benchProgram(root, name);
  const built = BUILD_BENCH_HINT;
  const py = onPath('python3');
  const pyReal = py === null ? null : run(py, ['-c', 'import sys; print(sys.executable)']);
  const taskset = onPath('taskset');
  const override = process.env[PYTHON_OVERRIDE_VAR];
  const tick = Number(run('getconf', ['CLK_TCK']));
  return {
    root,
    pipesRef: executable(rel('pipes_ref'), built),
    echoRef: executable(rel('echo_ref'), built),
    loadgen: executable(rel('loadgen'), built),
    python: pyReal ? { path: pyReal, missing: '' } : { path: null, missing: 'python3 not found on PATH' },
    uvloop: pythonWith('uvloop', 'python3-uvloop', { override }),
    gevent: pythonWith('gevent', 'python3-gevent', { override }),
    taskset: taskset
      ? { path: taskset, missing: '' }
      : { path: null, missing: 'taskset not found: processes are not pinned' },
    // Linux has used USER_HZ = 100 for utime since 2.6; getconf is asked first all the same.
    clkTck: Number.isFinite(tick) && tick > 0 ? tick : 100,
  };
}

function fdLimits(): [string, string] {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const parts = line?.trim().split(/\s+/) ?? [];
    return [parts[3] ?? '?', parts[4] ?? '?'];
  } catch {
    return ['?', '?'];
  }
}

function moduleInfo(tool: PythonModuleTool): string | null {
  return tool.found && `${tool.found.moduleVersion || '?'} (Python ${tool.found.pythonVersion || '?'})`;
}

export function machineInfo(env: BenchEnv): MachineInfo {
  const cpu = cpus();
  const [soft, hard] = fdLimits();
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    kernel: release(),
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    python: env.python.path ? run(env.python.path, ['-c', 'import platform; print(platform.python_version())']) : null,
    uvloop: moduleInfo(env.uvloop),
    gevent: moduleInfo(env.gevent),
    fdSoftLimit: soft,
    fdHardLimit: hard,
    clkTck: env.clkTck,
    taskset: env.taskset.path !== null,
  };
}
