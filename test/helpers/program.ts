// Runs a short ES module program against the built package (dist/, which `npm test` builds first)
// in a child process, to check what only a whole process shows: that it exits by itself.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, ensureBuilt } from './cli.js';

/** The built package's entry point, to import from a program's source. */
export const INDEX = join(ROOT, 'dist', 'src', 'index.js');

/** Runs `node --input-type=module -e code`; resolves with its exit code and stdout, or 'hung'. */
export async function runProgram(code: string, ms = 10_000): Promise<{ exit: number | string; out: string }> {
  ensureBuilt();
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exit = await new Promise<number | string>((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('hung');
    }, ms);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c ?? 'signal');
    });
  });
  return { exit, out };
}
