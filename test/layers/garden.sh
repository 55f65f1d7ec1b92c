#!/usr/bin/env bash
# Garden layer: every function, aggregate, window and table function of the
# extension (found in the catalog) called with edge-class inputs; see
# test/garden/garden.py.  Pass: 0 crashes, 0 XX000, 0 timeouts, no empty error
# message.  Prints one summary line; details in test/out/garden/.
#   GARDEN_MAX_PER_FUNCTION (120)  calls per function
#   GARDEN_EXTENSION (apivalue)     another extension, to test the garden itself
set -euo pipefail
cd "$(dirname "$0")/../.."
# Standalone runs test this work tree's build: take the install lock, build and
# install.  Under scripts/test.sh (APIVALUE_LOCK_HELD=1) that is done already.
if [ -z "${APIVALUE_LOCK_HELD:-}" ]; then
  exec 9>/tmp/apivalue-install.lock
  flock 9
  make -s -j"$(nproc)" >/dev/null
  make -s install >/dev/null
  export APIVALUE_LOCK_HELD=1
fi
out=test/out/garden
rm -rf "$out"; mkdir -p "$out"
ext=${GARDEN_EXTENSION:-apivalue}

pg_virtualenv -t -o max_parallel_workers_per_gather=0 bash -c '
  set -euo pipefail
  ext=$1 out=$2
  log=$(pg_lsclusters -h | awk "{print \$7}")
  psql -X -q -c "CREATE EXTENSION IF NOT EXISTS $ext CASCADE" >/dev/null
  rc=0
  python3 test/garden/garden.py --extension "$ext" --out "$out" \
    --max-per-function "${GARDEN_MAX_PER_FUNCTION:-120}" || rc=$?
  cp "$log" "$out/server.log" 2>/dev/null || true
  signals=$(grep -cE "terminated by signal|TRAP:|PANIC:" "$log" || true)
  if [ "$signals" -gt 0 ]; then
    echo "garden: server log reports $signals crash(es):"
    grep -E "terminated by signal|TRAP:|PANIC:" "$log" | head -n 10
    rc=1
  fi
  exit $rc
' garden "$ext" "$out" 9>&-
