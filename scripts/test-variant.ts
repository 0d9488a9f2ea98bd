// `npm run test:portable` and `npm run test:kqueue`: build a variant of the addon in a staging
// folder and run the suites that exercise it, loading it through IOMUX_PREBUILD so that the
// ordinary build/Release is never touched.
//
// - portable: -Dportable=1, the fcntl/SO_NOSIGPIPE creation path macOS takes (native/socket.cc),
//   under the selector, socket, transport and aio suites.
// - kqueue: -Dkqueue_double=1, native/kqueue.cc compiled against the <sys/event.h> double in
//   test/native/kqueue-double, under the selector suite, where it is a fourth backend.
import { join } from 'node:path';
import { NODE_GYP, ROOT, run, since, stage } from './staging.js';

interface Variant {
  gyp: string;
  suites: string[];
  env: Record<string, string>;
}

const VARIANTS: Record<string, Variant> = {
  portable: {
    gyp: '-Dportable=1',
    suites: ['test/selectors', 'test/socket', 'test/transports', 'test/aio'],
    env: { IOMUX_VARIANT: 'portable' },
  },
  kqueue: {
    gyp: '-Dkqueue_double=1',
    suites: ['test/selectors'],
    env: { IOMUX_VARIANT: 'kqueue-double' },
  },
};

function main(): void {
  const name = process.argv[2] ?? '';
  const variant = VARIANTS[name];
  if (!variant) throw new Error(`usage: test-variant.js ${Object.keys(VARIANTS).join('|')}`);
  const t0 = performance.now();
  const [dir, remove] = stage(`iomux-${name}-`);
  try {
    run(process.execPath, [NODE_GYP, 'rebuild', '--', variant.gyp], { cwd: dir });
    const built = performance.now();
    run(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...variant.suites], {
      cwd: ROOT,
      env: { ...process.env, IOMUX_PREBUILD: dir, ...variant.env },
    });
    console.log(`test:${name}: build ${((built - t0) / 1000).toFixed(1)} s, tests ${since(built)}`);
  } finally {
    remove();
  }
}

main();
