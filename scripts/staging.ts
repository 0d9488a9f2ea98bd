// Shared by the scripts/ commands: where the repository is, running a command that must succeed,
// and a staging folder in which node-gyp builds a variant of the addon without touching build/.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: scripts run from dist/scripts/, two levels below it. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** node-gyp as the repository pins it (devDependency), run by the given node binary. */
export const NODE_GYP = join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');

/** Runs a command with inherited output; throws with the command line when it fails. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`failed (${r.status ?? r.signal}): ${cmd} ${args.join(' ')}`);
}

/** Like run(), but returns stdout as text. */
export function capture(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`failed (${r.status ?? r.signal}): ${cmd} ${args.join(' ')}`);
  return String(r.stdout);
}

/** A temporary folder, removed by the returned function (safe to call twice). */
export function tempDir(prefix: string): [string, () => void] {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return [dir, () => rmSync(dir, { recursive: true, force: true })];
}

/**
 * A folder that looks like the package to node-gyp (binding.gyp, native/, the test doubles and
 * node_modules linked from the repository) but has its own build/. A variant built there is
 * loaded by pointing IOMUX_PREBUILD at it (node-gyp-build's `<NAME>_PREBUILD` override), so
 * the ordinary build/Release stays as it was.
 */
export function stage(prefix: string): [string, () => void] {
  const [dir, remove] = tempDir(prefix);
  for (const entry of ['binding.gyp', 'package.json', 'native', 'node_modules']) {
    symlinkSync(join(ROOT, entry), join(dir, entry));
  }
  mkdirSync(join(dir, 'test'));
  symlinkSync(join(ROOT, 'test', 'native'), join(dir, 'test', 'native'));
  return [dir, remove];
}

/** Milliseconds since `t0` (from performance.now()), rounded for reports. */
export function since(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)} s`;
}
