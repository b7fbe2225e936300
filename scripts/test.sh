#!/usr/bin/env bash
# Runs every test with Node's built-in runner. Lint first: a lint failure fails the run.
# Test files run one at a time: integration tests start real containers and VMs on a 2-core
# host, and running them together would only make each slower and timing-sensitive.
set -euo pipefail
cd "$(dirname "$0")/.."
npx eslint src test
# Only compiled tests whose source still exists: tsc never deletes the output of a removed file.
mapfile -t files < <(find dist/test -name '*.test.js' | sort | while read -r f; do
  src=${f#dist/}; [ -f "${src%.js}.ts" ] && echo "$f"; done)
exec node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout "$@" "${files[@]}"
