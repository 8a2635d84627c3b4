#!/usr/bin/env bash
# npm run bench:<name>: builds bench/<name>-c.c (the C baseline) when there is one, then runs
# out/bench/<name>.js in dom0 of Xen in a box.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
bash scripts/setup.sh --quiet
mkdir -p .cache/bench
case $name in
  list) gcc -O2 -o .cache/bench/list-c bench/list-c.c -lxenlight -lxentoollog ;;
  stats) gcc -O2 -o .cache/bench/stats-c bench/stats-c.c -lxenstat -lxenctrl ;;
esac
exec node dist/cli/main.js box exec -- node --expose-gc "out/bench/$name.js"
