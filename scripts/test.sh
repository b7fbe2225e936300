#!/usr/bin/env bash
# Runs every test with Node's built-in runner. Lint first: a lint failure fails the run.
# Files that start containers and VMs (integration, contract, and unit files that make a
# fixture) run one at a time: they share the host's bridge and cgroups, and on a 2-core host
# running them together would only make each slower and timing-sensitive. They take a lock of
# this run (test/helpers/suite-lock.ts); pure unit files run beside them on the other core.
set -euo pipefail
cd "$(dirname "$0")/.."
npx eslint src test
# Only compiled tests whose source still exists: tsc never deletes the output of a removed file.
mapfile -t files < <(find dist/test -name '*.test.js' | sort | while read -r f; do
  src=${f#dist/}; [ -f "${src%.js}.ts" ] && echo "$f"; done)
# Interleaved, so unit files are spread over the whole run instead of queued behind the
# serialized files: one serialized file, then two or so unit files, and so on.
mapfile -t ordered < <(printf '%s\n' "${files[@]}" | awk '
  /\/test\/unit\// { u[nu++] = $0; next } { s[ns++] = $0 }
  END { j = 0; for (i = 0; i < ns; i++) { print s[i]; for (k = 0; k < 2 && j < nu; k++) print u[j++] } while (j < nu) print u[j++] }')
ISOLA_SUITE_LOCK=$(mktemp /tmp/isola-suite-XXXXXX.lock)
export ISOLA_SUITE_LOCK
trap 'rm -f "$ISOLA_SUITE_LOCK"' EXIT
node --test --test-concurrency=3 --import ./dist/test/helpers/suite-serial.js \
  --test-reporter=spec --test-reporter-destination=stdout "$@" "${ordered[@]}"
