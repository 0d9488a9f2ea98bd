// bench/report/python.ts: which interpreter runs the uvloop and gevent servers, and the skip note
// when none can. The order and the notes are checked with a stand-in probe; the real probe with
// sh scripts standing in for interpreters, so no test depends on what this machine has installed.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  probePython,
  PYTHON_CANDIDATES,
  pythonWith,
  type PythonFound,
  type PythonProbe,
} from '../../bench/report/python.js';

const found = (executable: string): PythonFound => ({ executable, moduleVersion: '1.2.3', pythonVersion: '3.11.2' });

/** A probe that knows which interpreters have which modules, and records what it was asked. */
function table(has: Record<string, string[]>): { probe: PythonProbe; asked: string[] } {
  const asked: string[] = [];
  const probe: PythonProbe = (interpreter, module) => {
    asked.push(interpreter);
    return has[interpreter]?.includes(module) ? found(`/real/${interpreter.replace(/\//g, '_')}`) : null;
  };
  return { probe, asked };
}

describe('pythonWith', () => {
  test('asks python3 on PATH first, then the system interpreter', () => {
    expect(PYTHON_CANDIDATES).toEqual(['python3', '/usr/bin/python3']);
  });

  test('takes the first candidate that imports the module, and runs it by its sys.executable', () => {
    const { probe, asked } = table({ python3: ['uvloop'], '/usr/bin/python3': ['uvloop'] });
    expect(pythonWith('uvloop', 'python3-uvloop', { probe })).toEqual({
      path: '/real/python3',
      missing: '',
      found: found('/real/python3'),
    });
    expect(asked).toEqual(['python3']);
  });

  test("falls back to the system interpreter when PATH's python3 lacks the module (Debian's packages)", () => {
    const { probe, asked } = table({ python3: [], '/usr/bin/python3': ['gevent'] });
    expect(pythonWith('gevent', 'python3-gevent', { probe }).path).toBe('/real/_usr_bin_python3');
    expect(asked).toEqual(['python3', '/usr/bin/python3']);
  });

  test('no candidate with the module is a skip naming the package to install, not an error', () => {
    const { probe, asked } = table({ python3: ['gevent'], '/usr/bin/python3': [] });
    expect(pythonWith('uvloop', 'python3-uvloop', { probe })).toEqual({
      path: null,
      missing:
        'python3-uvloop not installed (apt-get install python3-uvloop; no uvloop module in python3 or /usr/bin/python3)',
      found: null,
    });
    expect(asked).toEqual(['python3', '/usr/bin/python3']);
  });

  test('IOMUX_PYTHON, when set, is the only interpreter asked', () => {
    const { probe, asked } = table({ python3: ['uvloop'], '/opt/py/bin/python3': ['uvloop'] });
    expect(pythonWith('uvloop', 'python3-uvloop', { probe, override: '/opt/py/bin/python3' }).path).toBe(
      '/real/_opt_py_bin_python3',
    );
    expect(asked).toEqual(['/opt/py/bin/python3']);
  });

  test('an IOMUX_PYTHON without the module is a skip that says so, with no fallback', () => {
    const { probe, asked } = table({ python3: ['gevent'], pypy3: [] });
    expect(pythonWith('gevent', 'python3-gevent', { probe, override: 'pypy3' })).toEqual({
      path: null,
      missing: 'python3-gevent not installed (apt-get install python3-gevent; IOMUX_PYTHON=pypy3 cannot import gevent)',
      found: null,
    });
    expect(asked).toEqual(['pypy3']);
  });

  test('an empty IOMUX_PYTHON counts as unset; the same candidate is not asked twice', () => {
    const { probe, asked } = table({});
    pythonWith('uvloop', 'python3-uvloop', { probe, override: '  ', candidates: ['python3', 'python3', 'py'] });
    expect(asked).toEqual(['python3', 'py']);
  });
});

describe('probePython', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iomux-bench-python-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** An executable that answers like a Python with `modules` importable (sh reads the -c text). */
  function fakePython(name: string, modules: string[]): string {
    const file = join(dir, name);
    const cases = modules.map((m) => `*"import ${m} as m"*) printf '%s\\n' "${file}" 9.8.7 3.11.2; exit 0 ;;`);
    writeFileSync(file, `#!/bin/sh\ncase "$2" in\n${cases.join('\n')}\nesac\necho "ModuleNotFoundError" >&2\nexit 1\n`);
    chmodSync(file, 0o755);
    return file;
  }

  test("reads the interpreter's path, the module's version and Python's from its answer", () => {
    const py = fakePython('with-uvloop', ['uvloop']);
    expect(probePython(py, 'uvloop')).toEqual({ executable: py, moduleVersion: '9.8.7', pythonVersion: '3.11.2' });
  });

  test('is null when the import fails, the interpreter does not exist, or the name is not a module name', () => {
    const py = fakePython('without', ['gevent']);
    expect(probePython(py, 'uvloop')).toBeNull();
    expect(probePython(join(dir, 'no-such-python'), 'uvloop')).toBeNull();
    expect(probePython(py, 'gevent; import os')).toBeNull();
  });

  test('through pythonWith: a PATH-less candidate list falls through to the one that has it', () => {
    const a = fakePython('a', []);
    const b = fakePython('b', ['gevent']);
    expect(pythonWith('gevent', 'python3-gevent', { candidates: [a, b] }).found).toEqual({
      executable: b,
      moduleVersion: '9.8.7',
      pythonVersion: '3.11.2',
    });
  });
});
