#!/usr/bin/env bash
# Citus layer: a coordinator and two workers on loopback, apivalue on every
# node, the sample events distributed by user_id.  Every query in
# test/scale/*.sql runs against the distributed table and against a plain
# local copy of the same rows; the answers must be identical.  A query file
# may declare the pushdown shape Citus must choose:
#   -- pushdown: partial   workers aggregate partially (worker_partial_agg /
#                          coord_combine_agg) — not a row gather
#   -- pushdown: coordinator  the coordinator aggregates the rows workers send
#   -- pushdown: full      the whole query runs on the workers
#   -- pushdown: function  a table function (runs on the coordinator; its
#                          inner queries are distributed by Citus)
# {{events}} in a query stands for the events table.
# Skipped, saying so, when Citus is not installed (../shared/deps/citus/install.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/clusters.sh

if [ ! -f "$(pg_config --pkglibdir)/citus.so" ]; then
  echo "SKIPPED: Citus is not installed (run ../shared/deps/citus/install.sh)"
  exit 0
fi

read -r c w1 w2 < <(av_free_ports 3 55410)
# pg_stat_statements on the workers counts the rows each shard query
# returned: the rows shipped to the coordinator.
av_cluster_start "citus-$c" "$c" shared_preload_libraries=citus max_worker_processes=16
for p in $w1 $w2; do
  av_cluster_start "citus-$p" "$p" shared_preload_libraries=citus,pg_stat_statements max_worker_processes=16
done
for p in $w1 $w2; do
  av_psql "$p" -c "CREATE EXTENSION citus" -c "CREATE EXTENSION apivalue" -c "CREATE EXTENSION pg_stat_statements"
done
av_psql "$c" -c "CREATE EXTENSION citus" -c "CREATE EXTENSION apivalue" \
  -c "SELECT citus_set_coordinator_host('127.0.0.1', $c)" \
  -c "SELECT citus_add_node('127.0.0.1', $w1)" \
  -c "SELECT citus_add_node('127.0.0.1', $w2)" >/dev/null

users=${APIVALUE_CITUS_USERS:-400}
av_psql "$c" -f test/data/sample.sql >/dev/null
av_psql "$c" -c "SELECT sample.generate(users => $users, seed => 7)" >/dev/null
av_psql "$c" >/dev/null <<'SQL'
CREATE TABLE public.local_events AS SELECT * FROM sample.events;
CREATE TABLE public.dist_events (LIKE sample.events);
SELECT create_distributed_table('public.dist_events', 'user_id');
INSERT INTO public.dist_events SELECT * FROM sample.events;
ANALYZE public.local_events, public.dist_events;
SQL
rows=$(av_psql "$c" -At -c "SELECT count(*) FROM public.dist_events")
echo "distributed $rows sample events over 2 workers"

pass=0
fail=0
for q in test/scale/*.sql; do
  [ -e "$q" ] || continue
  name=$(basename "$q" .sql)
  sql=$(grep -v '^[[:space:]]*--' "$q")
  want=$(grep -oP '^--\s*pushdown:\s*\K\w+' "$q" || true)
  lsql=${sql//\{\{events\}\}/public.local_events}
  dsql=${sql//\{\{events\}\}/public.dist_events}
  ok=1
  local_out=$(av_psql "$c" -At -c "$lsql" 2>&1) || { ok=0; echo "  $name: single-node query failed: $local_out"; }
  dist_out=$(av_psql "$c" -At -c "$dsql" 2>&1) || { ok=0; echo "  $name: distributed query failed: $dist_out"; }
  if [ "$local_out" != "$dist_out" ] || [ -z "$local_out" ]; then
    ok=0
    echo "  $name: distributed answer differs from the single-node one"
    diff <(echo "$local_out") <(echo "$dist_out") | head -n 10 || true
  fi
  plan=$(av_psql "$c" -At -c "EXPLAIN (VERBOSE, COSTS OFF) $dsql" 2>&1 || true)
  # Rows the workers sent: the rows returned by the shard queries, from
  # pg_stat_statements on the workers (reset before the query runs).
  for p in $w1 $w2; do av_psql "$p" -At -c "SELECT pg_stat_statements_reset()" >/dev/null; done
  av_psql "$c" -At -c "$dsql" >/dev/null 2>&1 || true
  shipped=0
  for p in $w1 $w2; do
    n=$(av_psql "$p" -At -c "SELECT coalesce(sum(rows), 0) FROM pg_stat_statements
                             WHERE query ~* '^\s*(SELECT|WITH)' AND query !~ 'pg_stat_statements'")
    shipped=$((shipped + n))
  done
  coordinator_part=$(sed -n '1,/Custom Scan (Citus/p' <<<"$plan")
  if [ "$want" = function ]; then
    # A table function runs on the coordinator; its inner queries go
    # through Citus like any other.  Nothing to assert about its own plan.
    shape=function
  elif grep -q 'worker_partial_agg' <<<"$plan"; then
    shape=partial
  elif grep -qE 'Aggregate' <<<"$coordinator_part"; then
    shape=coordinator   # aggregated on the coordinator over what the workers sent
  else
    shape=full
  fi
  if [ -n "$want" ] && [ "$want" != "$shape" ]; then
    ok=0
    echo "  $name: pushdown is $shape, expected $want"
  fi
  printf '  %-34s %-10s rows shipped to the coordinator: %s\n' "$name" "$shape" "$shipped"
  if [ $ok -eq 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "citus layer: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
