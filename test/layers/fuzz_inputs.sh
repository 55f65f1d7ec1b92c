#!/usr/bin/env bash
# Input fuzzing layer: at least 100,000 random and mutated inputs for every
# user-reachable parser of the extension (found from the catalog; see
# test/fuzz/fuzz.py).  Pass: 0 crashes, 0 XX000, 0 timeouts.
#   FUZZ_INPUTS (100000)  inputs in total
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${APIVALUE_LOCK_HELD:-}" ]; then
  exec 9>/tmp/apivalue-install.lock
  flock 9
  make -s -j"$(nproc)" >/dev/null
  make -s install >/dev/null
  export APIVALUE_LOCK_HELD=1
fi
out=test/out/fuzz
rm -rf "$out"; mkdir -p "$out"
pg_virtualenv -t -o max_parallel_workers_per_gather=0 -o log_min_messages=fatal bash -c '
  set -euo pipefail
  out=$1
  log=$(pg_lsclusters -h | awk "{print \$7}")
  psql -X -q -c "CREATE EXTENSION IF NOT EXISTS apivalue" >/dev/null
  rc=0
  python3 test/fuzz/fuzz.py --out "$out" --inputs "${FUZZ_INPUTS:-100000}" || rc=$?
  if grep -qE "terminated by signal|TRAP:|PANIC:" "$log"; then
    echo "fuzz: server log reports a crash:"; grep -E "terminated by signal|TRAP:|PANIC:" "$log" | head -n 5
    rc=1
  fi
  exit $rc
' fuzz "$out" 9>&- 2>&1 | grep -vE "^(Creating new|Dropping cluster)|No symbol|^#[0-9]|^warning" 
exit "${PIPESTATUS[0]}"
