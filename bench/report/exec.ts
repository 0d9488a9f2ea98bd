// Runs a benchmark program that prints one JSON object on stdout (pipes_ref, pipes.py, the iomux
// pipes worker, loadgen) and hands back that object with the exit code, never throwing: a
// program that crashes or times out is a result ("error: …"), not the end of the whole run.
import { execFile } from 'node:child_process';

export interface JsonRun {
  /** The last stdout line that parsed as a JSON object, or null. */
  json: Record<string, unknown> | null;
  code: number | null;
  /** Set when the program could not run, timed out, or printed no JSON: what went wrong. */
  problem: string;
  stderr: string;
}

/** Prefixes `taskset -c CPU` when taskset is available and a CPU is asked for. */
export function pinned(taskset: string | null, cpu: number | null, cmd: string, args: string[]): [string, string[]] {
  if (taskset === null || cpu === null) return [cmd, args];
  return [taskset, ['-c', String(cpu), cmd, ...args]];
}

export function runJson(cmd: string, args: string[], timeoutMs: number): Promise<JsonRun> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        let json: Record<string, unknown> | null = null;
        for (const line of stdout.trim().split('\n').reverse()) {
          try {
            const v: unknown = JSON.parse(line);
            if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
              json = v as Record<string, unknown>;
              break;
            }
          } catch {
            /* not JSON */
          }
        }
        let problem = '';
        if (err !== null && err.killed) problem = `timed out after ${timeoutMs / 1000} s`;
        else if (err !== null && code === null) problem = `${err.message.split('\n')[0]}`;
        else if (json === null) problem = `no JSON on stdout (exit ${code})${stderr ? `: ${lastLine(stderr)}` : ''}`;
        resolve({ json, code, problem, stderr });
      },
    );
  });
}

/** The most telling line of a program's stderr: the last one naming an error, else the last one. */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Node\.js v\d/.test(l));
  const telling = [...lines].reverse().find((l) => /error|errno|cannot|failed/i.test(l));
  return (telling ?? lines[lines.length - 1] ?? '').slice(0, 200);
}
