#!/usr/bin/env bash
# `npm test`: set-up, unit tests on this machine, the testbed's own tests (the Xen 4.17 box and
# the Xen 4.20 box, whose Debian 13 root setup builds once), then the integration suite inside
# dom0 of Xen in a box, once on Xen 4.17 and once on Xen 4.20 (or directly, with
# XENLIGHT_TEST_HOST=real on a dom0).
# Ends with one line for all suites: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/setup.sh --xen 4.20 || { echo "0 passed, 1 failed"; exit 1; }

results=.cache/test-results
# `xenlight box <cmd>`: the integration suites' boxes keep their state with the results.
box() { node dist/cli/main.js box "$@"; }
# A box left up by an interrupted run would outlive its state directory.
for b in "$results"/box-*; do [ -d "$b" ] && box down --state "$b" > /dev/null 2>&1; done
rm -rf "$results"
mkdir -p "$results"
mocha=node_modules/.bin/mocha
status=0

echo "== unit tests (this machine)"
XENLIGHT_RESULTS=$results/unit.json $mocha 'out/test/unit/**/*.test.js' || status=1

echo "== lint (type check, ESLint, Prettier, import cycles, clang-format, generated types)"
XENLIGHT_RESULTS=$results/lint.json bash scripts/lint.sh || status=1

if [ "${XENLIGHT_TEST_HOST:-box}" = real ]; then
  echo "== integration tests (this dom0)"
  XENLIGHT_RESULTS=$results/xen.json $mocha --timeout 180000 'out/test/xen/**/*.test.js' || status=1
else
  echo "== testbed tests (boots of Xen in a box)"
  XENLIGHT_RESULTS=$results/box.json $mocha --timeout 300000 'out/test/box/**/*.test.js' || status=1
  # The whole integration suite once per Xen version, each in its own box (one at a time), each
  # checked against that version's xl in the same dom0.
  for xen in 4.17 4.20; do
    name=$( [ $xen = 4.17 ] && echo xen || echo xen${xen/./} )
    echo "== integration tests, Xen $xen (inside dom0 of Xen in a box)"
    # One boot for the whole suite, through the same commands users run (xenlight box …).
    box_started=$(date +%s)
    mkdir -p "$results/xfer-$name"
    up() { box up --state "$results/box-$name" --xen $xen --xfer "$results/xfer-$name" --timeout 900; }
    # A boot that dies (Debian 13's kernel, rarely, oopses while it patches its own code under
    # QEMU's multi-threaded TCG; see docs/box.md) gets one more try, said in the log.
    if up || { echo "box: Xen $xen: the boot failed (above); booting once more"; box down --state "$results/box-$name" > /dev/null 2>&1; up; }; then
      box run --state "$results/box-$name" --timeout 3600 -- env XENLIGHT_RESULTS=/xfer/$name.json $mocha --timeout 180000 'out/test/xen/**/*.test.js' || status=1
      box down --state "$results/box-$name" || status=1
      echo "box: Xen $xen: up, suite and down took $(( $(date +%s) - box_started )) s (serial log: $results/box-$name/serial.log)"
    else
      status=1
    fi
    [ -f "$results/xfer-$name/$name.json" ] && cp "$results/xfer-$name/$name.json" "$results/$name.json"
  done
fi

echo "== npm test took $(( $(date +%s) - started )) s"
# A suite that left no counts (it crashed, or the box did) counts as one failure.
node -e '
  const fs = require("fs");
  const suites = process.argv.slice(1);
  let p = 0, f = 0, s = 0;
  for (const name of suites) {
    const file = `.cache/test-results/${name}.json`;
    if (!fs.existsSync(file)) { f += 1; console.error(`suite ${name} reported no results`); continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    p += r.passed; f += r.failed; s += r.skipped;
    for (const x of r.failures || []) console.log(`FAILED (${name}) ${x.title}: ${x.error}`);
  }
  const line = `${p} passed, ${f} failed` + (s ? `, ${s} skipped` : "");
  fs.writeFileSync(".cache/test-results/summary.txt", line + "\n");
  console.log(line);
  process.exit(f > 0 ? 1 : 0);
' unit lint $( [ "${XENLIGHT_TEST_HOST:-box}" = real ] && echo xen || echo box xen xen420 ) || status=1
exit $status
