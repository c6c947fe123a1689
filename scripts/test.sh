#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up what it needs, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx vitest run "$@"
