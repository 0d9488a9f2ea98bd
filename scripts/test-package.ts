// `npm run test:package`: what a user gets from `npm install iomux`, checked end to end.
//
// 1. Packs the package with `npm pack`, whose prepack script makes the prebuild (prebuilds.ts).
// 2. Checks the tarball's file list against what install and runtime need: nothing else ships.
// 3. Installs the tarball into two fresh projects in the temp folder, each then running a
//    selector round trip on every backend and a short echo exchange through `import 'iomux'`:
//    - with a compiler, building from source (npm's --build-from-source, which node-gyp-build
//      honours), which proves the shipped sources compile on their own;
//    - with PATH cut down to node and sh (no cc, c++, g++, make, python3), which proves the
//      prebuild is used and is enough.
// Everything made outside the repository is removed at the end, pass or fail.
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, capture, run, since, tempDir } from './staging.js';

/** What the package may hold: install and runtime files, the README and the LICENSE. */
const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^binding\.gyp$/,
  /^native\/[a-z_]+\.(cc|h)$/,
  /^dist\/src\/([a-z-]+\/)*[a-z-]+\.(js|d\.ts)$/,
  /^prebuilds\/[a-z0-9]+-[a-z0-9+]+\/[a-z0-9.]+\.node$/,
];

/** What it must hold for `import 'iomux'` to work with and without a compiler. */
const REQUIRED = [
  'package.json',
  'README.md',
  'LICENSE',
  'binding.gyp',
  'dist/src/index.js',
  'dist/src/index.d.ts',
  'dist/src/cli.js',
  'native/binding.cc',
];

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

// Runs inside each temp project: the public API only, from the installed package.
const CHECK = `
import { EVENT_READ, Loop, Socket, availableBackends, createSelector, socketpair } from 'iomux';

const backends = availableBackends();
for (const backend of backends) {
  const sel = createSelector(backend);
  const [a, b] = socketpair();
  sel.register(a, EVENT_READ, 'a');
  if (sel.select(0).length !== 0) throw new Error(backend + ': ready before any write');
  b.send(Buffer.from('x'));
  const ready = sel.select(5000);
  if (ready.length !== 1 || ready[0][0].data !== 'a' || ready[0][1] !== EVENT_READ) {
    throw new Error(backend + ': expected a readable, got ' + JSON.stringify(ready.map(([k, m]) => [k.fd, m])));
  }
  sel.close(); a.close(); b.close();
}

const loop = new Loop();
const listener = Socket.tcp();
listener.bind({ host: '127.0.0.1', port: 0 });
listener.listen();
async function serveOne() {
  const conn = await loop.sockAccept(listener);
  const buf = Buffer.alloc(64);
  const n = await loop.sockRecvInto(conn, buf);
  await loop.sockSendAll(conn, buf.subarray(0, n));
  conn.close();
}
async function client() {
  const s = Socket.tcp();
  await loop.sockConnect(s, listener.localAddress);
  await loop.sockSendAll(s, Buffer.from('hello iomux'));
  const got = await loop.sockRecv(s, 64);
  s.close();
  return got.toString();
}
const timer = setTimeout(() => { console.error('echo exchange timed out'); process.exit(1); }, 10000);
const [, echoed] = await loop.runUntilComplete(Promise.all([serveOne(), client()]));
clearTimeout(timer);
listener.close();
loop.close();
if (echoed !== 'hello iomux') throw new Error('echo answered ' + JSON.stringify(echoed));
console.log('ok: selector round trip on ' + backends.join(', ') + '; echoed ' + JSON.stringify(echoed));
`;

/** The one tarball npm pack left in `dir`: its name, sizes and file list (tar -tzv). */
function readTarball(dir: string): PackResult {
  const names = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  if (names.length !== 1) throw new Error(`expected one tarball in ${dir}, found ${JSON.stringify(names)}`);
  const filename = names[0];
  const files = capture('tar', ['-tzvf', join(dir, filename)])
    .trim()
    .split('\n')
    .map((line) => {
      // -rw-r--r-- 0/0    1074 1985-10-26 08:15 package/LICENSE
      const f = line.trim().split(/\s+/);
      return {
        path: f
          .slice(5)
          .join(' ')
          .replace(/^package\//, ''),
        size: Number(f[2]),
      };
    });
  return {
    filename,
    size: statSync(join(dir, filename)).size,
    unpackedSize: files.reduce((n, f) => n + f.size, 0),
    files,
  };
}

function checkFileList(pack: PackResult): void {
  const paths = pack.files.map((f) => f.path);
  const stray = paths.filter((p) => !ALLOWED.some((re) => re.test(p)));
  const missing = REQUIRED.filter((p) => !paths.includes(p));
  if (!paths.some((p) => p.startsWith(`prebuilds/${process.platform}-${process.arch}/`))) {
    missing.push(`prebuilds/${process.platform}-${process.arch}/*.node`);
  }
  if (stray.length > 0 || missing.length > 0) {
    throw new Error(`tarball file list: stray ${JSON.stringify(stray)}, missing ${JSON.stringify(missing)}`);
  }
}

/** A folder holding only node and sh: what PATH is in the no-compiler install. */
function bareBin(dir: string): string {
  const bin = join(dir, 'bare-bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  return bin;
}

/** `npm`'s own entry point, run by node directly so that PATH needs no npm on it. */
function npmCli(): string {
  const cli = join(capture('npm', ['prefix', '-g']).trim(), 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (!existsSync(cli)) throw new Error(`npm's entry point is not at ${cli}`);
  return cli;
}

function installAndCheck(label: string, dir: string, tarball: string, env: NodeJS.ProcessEnv, extra: string[]): string {
  const project = join(dir, label);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `try-${label}`, private: true, type: 'module' }));
  writeFileSync(join(project, 'check.mjs'), CHECK);
  const t0 = performance.now();
  run(process.execPath, [npmCli(), 'install', '--no-audit', '--no-fund', ...extra, tarball], { cwd: project, env });
  const took = since(t0);
  run(process.execPath, ['check.mjs'], { cwd: project, env });
  return took;
}

function main(): void {
  const t0 = performance.now();
  const [dir, remove] = tempDir('iomux-package-');
  try {
    // Not --json: the prepack script's build output shares npm's stdout. The tarball is read back.
    run('npm', ['pack', '--pack-destination', dir], { cwd: ROOT });
    const pack = readTarball(dir);
    checkFileList(pack);
    const tarball = join(dir, pack.filename);

    // With a compiler: force the node-gyp fallback, as on a platform with no prebuild.
    const fromSource = installAndCheck(
      'from-source',
      dir,
      tarball,
      { ...process.env, npm_config_build_from_source: 'true' },
      [],
    );
    if (!existsSync(join(dir, 'from-source', 'node_modules', 'iomux', 'build', 'Release', 'iomux.node'))) {
      throw new Error('--build-from-source did not build the addon');
    }

    // Without one: PATH has node and sh only, so any compile attempt would fail.
    const bin = bareBin(dir);
    const bare = { ...process.env, PATH: bin };
    for (const tool of ['cc', 'c++', 'g++', 'gcc', 'make', 'python3']) {
      const found = capture('/bin/sh', ['-c', `command -v ${tool} || true`], { env: bare }).trim();
      if (found) throw new Error(`${tool} is still reachable (${found})`);
    }
    chmodSync(bin, 0o755);
    const noCompiler = installAndCheck('no-compiler', dir, tarball, bare, []);
    if (existsSync(join(dir, 'no-compiler', 'node_modules', 'iomux', 'build'))) {
      throw new Error('the no-compiler install built something instead of using the prebuild');
    }

    console.log(
      `\ntarball ${pack.filename}: ${pack.files.length} files, ${(pack.size / 1024).toFixed(1)} KiB packed, ` +
        `${(pack.unpackedSize / 1024).toFixed(1)} KiB unpacked`,
    );
    for (const f of pack.files) console.log(`  ${String(f.size).padStart(8)}  ${f.path}`);
    console.log(`install with a compiler, from source: ${fromSource}`);
    console.log(`install with no compiler, prebuild:   ${noCompiler}`);
    console.log(`test:package passed in ${since(t0)}`);
  } finally {
    remove();
  }
}

main();
