// `npm run prebuilds`: the prebuilt addon for this platform, made by prebuildify into prebuilds/
// (shipped in the package; node-gyp-build picks it at install and load time). It is built in a
// staging folder so that the build/ of a working copy is left alone.
//
// N-API makes one binary serve every Node version from the one it was built with on. On Linux it
// is tagged glibc and needs the glibc it was linked against or newer: printed at the end.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, capture, run, stage } from './staging.js';

const PREBUILDIFY = join(ROOT, 'node_modules', 'prebuildify', 'bin.js');

/** The newest GLIBC_x.y symbol version the binary asks for, read with objdump (binutils). */
export function glibcNeeded(file: string): string {
  const versions = [...capture('objdump', ['-T', file]).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map(
    (m) => [Number(m[1]), Number(m[2])] as const,
  );
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const top = versions.at(-1);
  return top ? `${top[0]}.${top[1]}` : 'none';
}

export function makePrebuilds(): string[] {
  const [dir, remove] = stage('iomux-prebuild-');
  try {
    run(process.execPath, [PREBUILDIFY, '--napi', '--strip', '--tag-libc', '--cwd', dir, '--out', ROOT], { cwd: ROOT });
  } finally {
    remove();
  }
  const folder = join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  return readdirSync(folder).map((f) => join(folder, f));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const file of makePrebuilds()) {
    const libc = process.platform === 'linux' ? `, needs glibc >= ${glibcNeeded(file)}` : '';
    console.log(`prebuilt ${file}${libc}`);
  }
}
