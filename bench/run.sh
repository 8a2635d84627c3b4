#!/usr/bin/env bash
# npm run bench:<name> [-- --xen 4.20]: builds the C baseline of each bench that has one
# (bench/<name>-c.c), then runs out/bench/<name>.js in dom0 of Xen in a box of that Xen version
# (default 4.17). <name> may be a comma-separated list (list,stats,create): one box runs them all,
# one after the other. The 4.20 baselines are compiled in a chroot of the 4.20 box's root,
# against its libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
names=$1
shift
xen=4.17
if [ "${1:-}" = --xen ]; then xen=$2; shift 2; fi
case $xen in 4.17 | 4.20) ;; *) echo "bench: no box for Xen $xen (4.17 or 4.20)" >&2; exit 2 ;; esac
bash scripts/setup.sh --quiet --xen "$xen"
out=.cache/bench/xen$xen
mkdir -p "$out"
script="set -e"
for name in ${names//,/ }; do
  [ -f "out/bench/$name.js" ] || { echo "bench: no bench $name (bench/$name.ts)" >&2; exit 2; }
  case $name in
    list) libs="-lxenlight -lxentoollog" ;;
    stats) libs="-lxenstat -lxenctrl" ;;
    *) libs="" ;;
  esac
  env=""
  if [ -n "$libs" ]; then
    if [ "$xen" = 4.17 ]; then
      gcc -O2 -o "$out/$name-c" "bench/$name-c.c" $libs
    else
      node -e '
        const [xen, src, dir, name, libs] = process.argv.slice(1);
        const roots = require("./dist/box/roots");
        roots.runInRoot(roots.prepareRoot(xen), `gcc -O2 -o /tmp/out/${name}-c /tmp/src/${name}-c.c ${libs}`, { "/tmp/src": src, "/tmp/out": dir });
      ' "$xen" "$PWD/bench" "$PWD/$out" "$name" "$libs"
    fi
    env="XENLIGHT_BENCH_C=$PWD/$out/$name-c"
  fi
  script="$script; echo \"== bench $name, Xen $xen, \$(date -u +%FT%TZ)\"; env $env node --expose-gc out/bench/$name.js $*"
done
exec node dist/cli/main.js box exec --xen "$xen" -- sh -c "$script"
