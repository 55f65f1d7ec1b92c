#!/usr/bin/env bash
# Test layer: the benchmark harness works end to end on a small data set
# (~20k events, 1 run, 0 and 2 workers): every case runs, and the table has
# a timed row per case and workers setting.  Timings are not judged.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
scripts/bench.sh --no-build --events 20000 --runs 1 --parallel 0,2 | tee "$out"
ncases=$(ls test/bench/cases/*.sql | wc -l)
# rows of the table: case name, workers, then numbers or "-"
rows=$(awk 'f && NF == 7 && $2 ~ /^[0-9]+$/ { n++ } /^case +workers/ { f = 1 } END { print n + 0 }' "$out")
timed=$(awk 'f && NF == 7 && $2 ~ /^[0-9]+$/ && $5 ~ /^[0-9.]+$/ && ($3 ~ /^[0-9.]+$/ || $4 ~ /^[0-9.]+$/) { n++ } /^case +workers/ { f = 1 } END { print n + 0 }' "$out")
echo "bench_smoke: $ncases cases, $rows rows, $timed timed"
[ "$rows" -eq $((ncases * 2)) ] && [ "$timed" -eq "$rows" ]
