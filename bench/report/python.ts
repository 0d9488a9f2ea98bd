// Finds a Python that can import a given module (uvloop, gevent) for the reference servers that
// need one. Debian installs python3-uvloop and python3-gevent for its own /usr/bin/python3, which
// is often not the python3 first on PATH (pyenv, a venv), so each candidate is asked in turn; a
// module no candidate has is a skip with the install hint, never an error.
import { execFileSync } from 'node:child_process';

/** Set to an interpreter (a name on PATH or a path) to use it, and only it, for these servers. */
export const PYTHON_OVERRIDE_VAR = 'IOMUX_PYTHON';

/** Asked in this order when the override is unset: PATH's python3, then Debian's own. */
export const PYTHON_CANDIDATES: readonly string[] = ['python3', '/usr/bin/python3'];

/** What a candidate that imports the module reports about itself. */
export interface PythonFound {
  /** sys.executable: the interpreter itself, shims resolved, so the PID watched is Python's. */
  executable: string;
  /** The module's __version__ ('' when it has none). */
  moduleVersion: string;
  /** platform.python_version() of that interpreter. */
  pythonVersion: string;
}

/** Asks `interpreter` to import `module`; null when it cannot run or cannot import it. */
export type PythonProbe = (interpreter: string, module: string) => PythonFound | null;

export interface PythonModuleTool {
  /** The interpreter to run the server with, or null when no candidate has the module. */
  readonly path: string | null;
  /** Why it is missing (shown in the notes), or '' when present. */
  readonly missing: string;
  /** The module's version and the interpreter's, for the JSON; null when missing. */
  readonly found: PythonFound | null;
}

/** Runs the candidate for real: one short-lived process, 10 s at most. */
export const probePython: PythonProbe = (interpreter, module) => {
  // The module name is checked before it reaches the program text.
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(module)) return null;
  const program = [
    'import platform, sys',
    `import ${module} as m`,
    "print(sys.executable); print(getattr(m, '__version__', '')); print(platform.python_version())",
  ].join('\n');
  try {
    const out = execFileSync(interpreter, ['-c', program], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    const [executable, moduleVersion, pythonVersion] = out.trim().split('\n');
    return executable ? { executable, moduleVersion: moduleVersion ?? '', pythonVersion: pythonVersion ?? '' } : null;
  } catch {
    return null;
  }
};

/**
 * The first interpreter that imports `module`: the one named by IOMUX_PYTHON when that is set
 * (no fallback, so a run asked for one interpreter never measures another), else the first of
 * PYTHON_CANDIDATES. `debPackage` is the Debian package the skip note tells the reader to install.
 */
export function pythonWith(
  module: string,
  debPackage: string,
  opts: { override?: string; candidates?: readonly string[]; probe?: PythonProbe } = {},
): PythonModuleTool {
  const probe = opts.probe ?? probePython;
  const override = opts.override?.trim() ?? '';
  const candidates = override !== '' ? [override] : [...new Set(opts.candidates ?? PYTHON_CANDIDATES)];
  for (const interpreter of candidates) {
    const found = probe(interpreter, module);
    if (found !== null) return { path: found.executable, missing: '', found };
  }
  const tried =
    override !== ''
      ? `${PYTHON_OVERRIDE_VAR}=${override} cannot import ${module}`
      : `no ${module} module in ${candidates.join(' or ')}`;
  return {
    path: null,
    missing: `${debPackage} not installed (apt-get install ${debPackage}; ${tried})`,
    found: null,
  };
}
