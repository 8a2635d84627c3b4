#!/usr/bin/env bash
# npm run bench:list: builds the C baseline, then runs bench/list.ts in dom0 of Xen in a box.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --quiet
mkdir -p .cache/bench
gcc -O2 -o .cache/bench/list-c bench/list-c.c -lxenlight -lxentoollog
exec node dist/src/box/cli.js -- node --expose-gc dist/bench/list.js
