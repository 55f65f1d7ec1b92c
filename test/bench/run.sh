#!/usr/bin/env bash
# test/bench/run.sh: the benchmark driver, run by scripts/bench.sh inside a
# throw-away cluster (libpq variables already point at it).
#   run.sh EVENTS RUNS WORKERS[,WORKERS...] [case ...]
# Loads the sample data set at the scale asked (users = EVENTS / 50), then
# times every case of test/bench/cases (see "Benchmarks" in README.md) and prints a table.
set -euo pipefail
cd "$(dirname "$0")/../.."

events=$1 runs=$2 workers=$3
shift 3
users=$((events / 50)); [ "$users" -ge 1 ] || users=1
casedir=test/bench/cases
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

psqlq() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# The cases to run: all, or those named.
cases=()
if [ $# -eq 0 ]; then
  for f in "$casedir"/*.sql; do [ -e "$f" ] && cases+=("$(basename "$f" .sql)"); done
else
  for c in "$@"; do
    c=${c%.sql}; c=${c##*/}
    [ -f "$casedir/$c.sql" ] || { echo "bench: no case \"$c\" in $casedir" >&2; exit 2; }
    cases+=("$c")
  done
fi
[ ${#cases[@]} -gt 0 ] || { echo "bench: no cases in $casedir" >&2; exit 2; }

# AV_BENCH_REUSE=1 (test/scale/bench_growth.sh): a cluster that already
# holds the data set is benchmarked as it is; AV_BENCH_GENERATE_ONLY=1:
# load the data set and stop.
if [ "${AV_BENCH_REUSE:-0}" = 1 ] &&
   [ "$(psqlq -c "SELECT to_regclass('sample.events') IS NOT NULL")" = t ]; then
  rows=$(psqlq -c 'SELECT count(*) FROM sample.events')
  echo "bench: reusing the cluster's data set, $rows rows"
else
  echo "bench: generating the sample data set, $users users (~$events events)"
  t0=$(date +%s%N)
  psqlq -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS apivalue' \
        -f test/data/sample.sql -c "SELECT sample.generate(users => $users)" >/dev/null
  t1=$(date +%s%N)
  psqlq -c 'VACUUM ANALYZE sample.events' >/dev/null
  t2=$(date +%s%N)
  rows=$(psqlq -c 'SELECT count(*) FROM sample.events')
  size=$(psqlq -c "SELECT pg_size_pretty(pg_table_size('sample.events'))")
  echo "bench: $rows rows ($size), generated in $(( (t1 - t0) / 1000000 )) ms, vacuum analyze $(( (t2 - t1) / 1000000 )) ms"
fi
[ "${AV_BENCH_GENERATE_ONLY:-0}" = 1 ] && exit 0

floor_default='SELECT user_id, min(ts), max(ts) FROM sample.events GROUP BY user_id'

# section FILE NAME: the lines of section "-- NAME:" of a case file, up to the
# next section header, blank lines removed.
section() {
  awk -v want="$2" '
    /^-- (title|setup|apivalue|hand|floor):/ {
      name = $2; sub(/:$/, "", name); cur = name
      if (cur == want && name == "title") { sub(/^-- title:[ \t]*/, ""); print }
      next
    }
    cur == want && want != "title" { print }
  ' "$1" | sed -e '/^[[:space:]]*$/d'
}
# query FILE NAME: a section holding one query, without its final semicolon.
query() { section "$1" "$2" | sed -e '$ s/;[[:space:]]*$//'; }

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

results=$tmp/results
: > "$results"
IFS=, read -r -a wlist <<< "$workers"
for c in "${cases[@]}"; do
  f=$casedir/$c.sql
  q_api=$(query "$f" apivalue)
  q_hand=$(query "$f" hand)
  q_floor=$(query "$f" floor)
  [ -n "$q_floor" ] || q_floor=$floor_default
  setup=$(section "$f" setup)
  if [ -z "$q_api" ] && [ -z "$q_hand" ]; then
    echo "bench: case $c has neither an apivalue nor a hand section" >&2; exit 2
  fi
  for w in "${wlist[@]}"; do
    echo "bench: case $c ($(section "$f" title)), $w workers, $runs runs"
    script=$tmp/$c.$w.sql
    { echo "SET max_parallel_workers_per_gather = $w;"
      [ -z "$setup" ] || printf '%s\n' "$setup"
      # warm the cache once, untimed
      printf '\\o /dev/null\nEXPLAIN (ANALYZE, TIMING OFF) %s;\n\\o\n' "$q_floor"
    } > "$script"
    for ((r = 1; r <= runs; r++)); do
      for kind in apivalue hand floor; do
        case $kind in apivalue) q=$q_api ;; hand) q=$q_hand ;; floor) q=$q_floor ;; esac
        [ -n "$q" ] || continue
        printf '\\echo @%s\nEXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON)\n%s;\n' "$kind" "$q" >> "$script"
      done
    done
    psqlq -f "$script" > "$tmp/$c.$w.out"
    # pair each "@kind" marker with the next "Execution Time"
    awk '/^@/ { kind = substr($0, 2) } /"Execution Time"/ { v = $0; gsub(/[^0-9.]/, "", v); print kind, v }' \
      "$tmp/$c.$w.out" > "$tmp/$c.$w.times"
    a=$(awk '$1 == "apivalue" { print $2 }' "$tmp/$c.$w.times" | median)
    h=$(awk '$1 == "hand" { print $2 }' "$tmp/$c.$w.times" | median)
    fl=$(awk '$1 == "floor" { print $2 }' "$tmp/$c.$w.times" | median)
    echo "$c $w ${a:--} ${h:--} ${fl:--}" >> "$results"
  done
done

echo
echo "bench: $rows events, median of $runs runs, Execution Time from EXPLAIN (ANALYZE, TIMING OFF)"
awk 'BEGIN {
       printf "%-28s %7s %12s %12s %12s %14s %13s\n", "case", "workers", "apivalue ms", "hand SQL ms", "floor ms", "apivalue/floor", "hand/apivalue"
     }
     function r(a, b) { return (a == "-" || b == "-" || b == 0) ? "-" : sprintf("%.2f", a / b) }
     function ms(x) { return x == "-" ? "-" : sprintf("%.1f", x) }
     { printf "%-28s %7s %12s %12s %12s %14s %13s\n", $1, $2, ms($3), ms($4), ms($5), r($3, $5), r($4, $3) }' "$results"
