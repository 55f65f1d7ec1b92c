#!/usr/bin/env bash
# apivalue's whole test suite, on a fresh Debian 12 machine as root:
#   scripts/test.sh              everything (what .ci/run calls)
#   scripts/test.sh smoke funnel only those pg_regress tests (serial + parallel)
#
# It installs the packages it needs, builds and installs the extension, then
# runs the pg_regress suite twice in throw-away clusters (pg_virtualenv): once
# with parallel query off and once with parallel plans forced.  Both runs
# compare against the same expected files, so they must agree.  Then every
# test/layers/*.sh (differential, garden, fuzz, pg_cron, ...) runs in a
# throw-away cluster of its own.  Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/deps.sh
# One build-install-test at a time per machine: the install directory is shared
# (several work trees of one developer, or a developer and a CI run).
exec 9>/tmp/apivalue-install.lock
flock 9
export APIVALUE_LOCK_HELD=1   # layers that rebuild (sanitizers, coverage) must not lock again
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null

tests=("$@")
passed=0
failed=0
failures=()

regress() {  # $1 = label, rest = pg_virtualenv -o options
  local label=$1; shift
  local opts=()
  for o in "$@"; do opts+=(-o "$o"); done
  local outdir=test/out/$label
  rm -rf "$outdir"; mkdir -p "$outdir"
  local extra=()
  [ ${#tests[@]} -gt 0 ] && extra=(REGRESS="${tests[*]}")
  echo "== pg_regress ($label)"
  # 9>&-: the throw-away server must not inherit the install lock, or a
  # server left behind by an interrupted run would hold it forever.
  local tries=0
  while :; do
    pg_virtualenv -t "${opts[@]}" \
      make -s installcheck "${extra[@]}" \
        REGRESS_OPTS="--inputdir=test --outputdir=$outdir" >"$outdir/log" 2>&1 9>&- || true
    # Clusters starting at once on one machine can race for a port: retry.
    if grep -q 'Port conflict' "$outdir/log" && [ $((tries += 1)) -lt 5 ]; then
      sleep $((RANDOM % 3 + 1)); continue
    fi
    break
  done
  grep -E '^(ok|not ok|test |     |  )' "$outdir/log" | grep -E 'ok|FAILED|failed' || true
  local p f
  p=$(grep -cE '\.\.\. ok|^ok ' "$outdir/log" || true)
  f=$(grep -cE '\.\.\. FAILED|^not ok |failed \(ignored\)' "$outdir/log" || true)
  if ! grep -qE 'All [0-9]+ tests passed' "$outdir/log"; then
    [ "$f" -gt 0 ] || f=1
    failures+=("pg_regress $label (see $outdir/regression.diffs)")
    [ -f "$outdir/regression.diffs" ] && head -n 80 "$outdir/regression.diffs"
    grep -E 'FATAL|PANIC|terminated by signal|TRAP' "$outdir/log" | head -n 20 || true
  fi
  passed=$((passed + p)); failed=$((failed + f))
}

regress serial   max_parallel_workers_per_gather=0
regress parallel parallel_setup_cost=0 parallel_tuple_cost=0 \
                 min_parallel_table_scan_size=0 min_parallel_index_scan_size=0 \
                 max_parallel_workers_per_gather=2 parallel_leader_participation=off

if [ ${#tests[@]} -eq 0 ]; then
  for layer in test/layers/*.sh; do
    [ -e "$layer" ] || continue
    name=$(basename "$layer" .sh)
    echo "== layer $name"
    if bash "$layer" 9>&-; then
      passed=$((passed + 1))
      echo "ok - layer $name"
    else
      failed=$((failed + 1))
      failures+=("layer $name")
      echo "not ok - layer $name"
    fi
  done
fi

echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "apivalue tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
