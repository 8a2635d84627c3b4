#!/usr/bin/env bash
# `npm run lint`: every static check, each reported on its own line; exits 1 if any fails.
# With XENLIGHT_RESULTS=FILE, also writes the counts as a suite of `npm test` (one check, one test).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
passed=0
failed=0
failures=()
check() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    echo "lint: ok   $name"
    passed=$((passed + 1))
  else
    echo "lint: FAIL $name"
    printf '%s\n' "$out" | tail -n 40 | sed 's/^/      /'
    failed=$((failed + 1))
    failures+=("$name")
  fi
}
check 'type check (tsc, src + tests + benches + examples)' $bin/tsc -p tsconfig.json --noEmit
check 'ESLint' $bin/eslint --max-warnings 0 .
check 'Prettier' $bin/prettier --check --log-level warn .
# No import cycle, type-only imports and lazy require() included.
check 'no import cycle (dpdm)' $bin/dpdm --no-tree --no-warning --exit-code circular:1 'src/**/*.ts'
check 'clang-format (native/)' bash -c 'clang-format --dry-run -Werror $(find native -name "*.cc" -o -name "*.h")'
check 'generated types are current (gen-types --check)' node scripts/gen-types.mjs --check
check "docs/xl-compat.md's generated list is current (gen-xl-compat --check)" node scripts/gen-xl-compat.mjs --check
check 'the public API is the reviewed one (etc/api/*.api.md, api-report --check)' node scripts/api-report.mjs --check
echo "lint: $passed passed, $failed failed"
if [ -n "${XENLIGHT_RESULTS:-}" ]; then
  node -e '
    const [file, p, f, ...names] = process.argv.slice(1);
    const failures = names.map((title) => ({ title: `lint: ${title}`, error: "see the lint output above" }));
    require("fs").writeFileSync(file, JSON.stringify({ passed: +p, failed: +f, skipped: 0, failures }));
  ' "$XENLIGHT_RESULTS" "$passed" "$failed" "${failures[@]}"
fi
[ "$failed" = 0 ]
