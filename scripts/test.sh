#!/usr/bin/env bash
# The one test command (README, .ci/run): install what is needed, lint, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx biome check src test bench scripts
node scripts/run-tests.mjs "$@"
