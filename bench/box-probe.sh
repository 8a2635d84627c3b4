#!/usr/bin/env bash
# bash bench/box-probe.sh [--xen 4.20]: what a process start, xl and a PV guest cost in dom0 of
# a box of that Xen version, one boot, printed side by side (the figures of docs/box.md's
# remarks on the 4.20 box's speed). Run both versions one after the other to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
xen=4.17
if [ "${1:-}" = --xen ]; then xen=$2; shift 2; fi
bash scripts/setup.sh --quiet --xen "$xen"
exec node dist/cli/main.js box exec --xen "$xen" -- sh -c '
t() { s=$(date +%s%N); "$@" > /dev/null 2>&1; e=$(date +%s%N); echo "$(( (e - s) / 1000000 )) ms  $*"; }
echo "== Xen $(xl info xen_version), dom0 $(uname -r), $(date -u +%FT%TZ)"
t node -e 0; t node -e 0; t node -e 0
# The 4.20 box runs the Node of the host (first on PATH); /usr/bin/node there is the Debian 13 one.
t /usr/bin/node -e 0; t /usr/bin/node -e 0
echo "/usr/bin/node: $(/usr/bin/node -p '"'"'process.version + " snapshot " + process.config.variables.node_use_node_snapshot + ", code cache " + process.config.variables.node_use_node_code_cache'"'"')"
t xl list; t xl list
t node dist/cli/main.js list; t node dist/cli/main.js list
node -e "
  const g = require(\"./dist/box/guests.js\");
  const { execFileSync } = require(\"node:child_process\");
  require(\"node:fs\").writeFileSync(\"/tmp/probe.cfg\", g.pvGuestConfig({ name: \"probe\" }));
  let t0 = Date.now();
  execFileSync(\"xl\", [\"create\", \"-q\", \"/tmp/probe.cfg\"]);
  console.log(Date.now() - t0 + \" ms  xl create (PV guest)\"); t0 = Date.now();
  g.waitForConsole(\"probe\", /xenlight-guest: up/).then(() => {
    console.log(Date.now() - t0 + \" ms  the guest up, after xl create\");
    execFileSync(\"xl\", [\"destroy\", \"probe\"]);
  }, (e) => { console.error(String(e)); process.exit(1); });
"'
