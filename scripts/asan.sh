#!/usr/bin/env bash
# `npm run test:asan [-- <test files>]`: the addon built with AddressSanitizer (and LeakSanitizer),
# then the integration suite (or the given compiled test files) run inside Xen in a box with
# libasan preloaded into node. Prints every ASan error and every leak whose allocation stack
# passes through the addon, and fails if there is one. Leaks whose stacks stay inside node or V8
# (the runtime is not built for ASan and frees little at exit) are counted, not failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --quiet
dir=.cache/asan
rm -rf "$dir" && mkdir -p "$dir/xfer"
cp -r binding.gyp native "$dir/"
# gyp's Makefiles take CXXFLAGS and LDFLAGS from the environment.
(cd "$dir" && CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer -g -O1" LDFLAGS="-fsanitize=address" \
  ../../node_modules/.bin/node-gyp rebuild -j 2 > build.log 2>&1) || { cat "$dir/build.log"; exit 1; }
libasan=$(gcc -print-file-name=libasan.so)
files=("$@")
[ ${#files[@]} -gt 0 ] || files=('out/test/xen/**/*.test.js')
# XENLIGHT_PREBUILD: the loader (src/core/native.ts) takes $dir/build/Release/xenlight.node first.
# test/support/asan-env unsets LD_PRELOAD inside node, so xl, scripts and hotplug children run
# without ASan. Node's own SIGSEGV handling stays (handle_segv=0).
status=0
node dist/cli/main.js box exec --xfer "$dir/xfer" --timeout 3600 -- env XENLIGHT_PREBUILD="$PWD/$dir" LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=1:handle_segv=0:allow_user_segv_handler=1:detect_odr_violation=0:log_path=/xfer/asan" \
  XENLIGHT_RESULTS=/xfer/results.json node_modules/.bin/mocha --require out/test/support/asan-env.js --timeout 180000 "${files[@]}" || true
# mocha's exit status is not the verdict: LeakSanitizer makes node exit 1 for the runtime's own
# leaks at exit (node and V8 free little), which the report counts apart. The tests' results are.
node -e 'const r = require(process.argv[1]); console.log(`tests: ${r.passed} passed, ${r.failed} failed`); process.exit(r.failed || !r.passed ? 1 : 0)' \
  "$PWD/$dir/xfer/results.json" || status=1
node scripts/asan-report.mjs "$dir/xfer" || status=1
exit $status
