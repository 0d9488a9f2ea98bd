#!/usr/bin/env bash
# npm run test:asan: the addon built with AddressSanitizer and UndefinedBehaviorSanitizer into
# build/Debug (build/Release is left as it is), then the native contract, selector, socket, loop,
# transport and aio suites run against it.
#
# Node itself is not built with ASan, so the runtime must be loaded first (LD_PRELOAD, as
# node-gyp's docs describe); IOMUX_DEBUG=1 makes src/native.ts load build/Debug. Options:
# - detect_leaks=0: LeakSanitizer would report what Node and V8 deliberately keep until exit
#   (valgrind's memcheck run covers the addon's own leaks, see the README).
# - halt_on_error / -fno-sanitize-recover=undefined: any finding fails the run, not just a line.
set -euo pipefail
cd "$(dirname "$0")/.."

npx node-gyp configure -- -Dsanitize=1
npx node-gyp build --debug

runtime=$("${CC:-gcc}" -print-file-name=libasan.so)
if [ ! -f "$runtime" ]; then
  echo "test:asan: no ASan runtime found ($runtime); install the compiler's libasan" >&2
  exit 1
fi
export LD_PRELOAD="$runtime"
export IOMUX_DEBUG=1
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Prove the sanitized build is the one loaded before trusting a green run.
node --input-type=module -e "
  await import('./dist/src/native.js');
  const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
  if (!/build\/Debug\/iomux\.node/.test(maps) || !/libasan/.test(maps)) {
    console.error('test:asan: the sanitized addon is not the one loaded'); process.exit(1);
  }
  console.log('test:asan: build/Debug/iomux.node with ASan+UBSan loaded');
"
npx vitest run test/native test/selectors test/socket test/loop test/transports test/aio "$@"
