#!/usr/bin/env bash
# The fault suite (test/faults/) on its own: `npm run test:faults` is what `npm test` runs of it;
# `npm run test:faults -- --long` soaks longer (more kill points, a minute-long log flood).
# AEGIS_FAULT_SEED=N replays a run's random fault points. Other arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for a in "$@"; do
  if [ "$a" = "--long" ]; then export AEGIS_FAULTS_LONG=1; else args+=("$a"); fi
done
exec npx vitest run test/faults ${args[@]+"${args[@]}"}
