// The addon loader (src/native.ts): when no build and no prebuild fits, its error must say where
// it looked and how to rebuild, because that message is all a user with a failed install sees.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the native loader', () => {
  test('names every place it tried and the rebuild command when nothing loads', () => {
    const empty = mkdtempSync(join(tmpdir(), 'iomux-no-addon-'));
    dirs.push(empty);
    // IOMUX_PREBUILD (node-gyp-build's override) points the search at a folder with nothing in it.
    const r = spawnSync(process.execPath, ['-e', `import(${JSON.stringify(join(ROOT, 'dist', 'src', 'native.js'))})`], {
      env: { ...process.env, IOMUX_PREBUILD: empty, IOMUX_DEBUG: '' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.status).not.toBe(0);
    const platform = `${process.platform}-${process.arch}`;
    for (const where of [
      join(empty, 'build', 'Release', '*.node'),
      join(empty, 'build', 'Debug', '*.node'),
      join(empty, 'prebuilds', platform, '*.node'),
      join(dirname(process.execPath), 'prebuilds', platform, '*.node'),
    ])
      expect(r.stderr).toContain(where);
    expect(r.stderr).toContain(`iomux: no native addon for ${platform}`);
    expect(r.stderr).toContain('`npm rebuild iomux`');
  });

  test('loads the build the package folder has when nothing overrides it', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { native } = await import(${JSON.stringify(join(ROOT, 'dist', 'src', 'native.js'))}); console.log(native.backends.join(','))`,
      ],
      {
        env: { ...process.env, IOMUX_PREBUILD: '' },
        encoding: 'utf8',
        timeout: 15_000,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^select,poll/);
  });
});
