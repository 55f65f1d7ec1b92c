#!/usr/bin/env bash
# Partitions layer: the sample events in a time-partitioned table created by
# pg_partman (weekly native partitions, partman.create_parent) and in a
# hash-partitioned one (4 partitions by user_id).  Every query of
# test/scale/*.sql (per-user aggregates, cross-user summaries, table
# functions, quality checks) gives the single table's answer on both, with
# partition-wise aggregation on, and on the hash-partitioned table also with
# parallel plans forced.  Skipped, saying so, when pg_partman is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/clusters.sh
source test/scale/compare.sh

if [ ! -f "$(pg_config --sharedir)/extension/pg_partman.control" ]; then
  echo "SKIPPED: pg_partman is not installed (Debian package postgresql-15-partman)"
  exit 0
fi

read -r port < <(av_free_ports 1 55430)
av_cluster_start partitions "$port" max_worker_processes=16 max_parallel_workers=8 >/dev/null
users=${APIVALUE_PARTITIONS_USERS:-400}
av_psql "$port" -c "SET client_min_messages = warning" -c "CREATE EXTENSION apivalue" \
  -c "CREATE SCHEMA partman" -c "CREATE EXTENSION pg_partman SCHEMA partman" >/dev/null
av_psql "$port" -f test/data/sample.sql >/dev/null
av_psql "$port" -c "SELECT sample.generate(users => $users, seed => 7)" >/dev/null
av_psql "$port" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE public.local_events AS SELECT * FROM sample.events;

-- Time-partitioned, as pg_partman creates it: weekly partitions from the
-- first week of the data, 20 made ahead; rows outside go to the default.
CREATE TABLE public.time_events (LIKE sample.events) PARTITION BY RANGE (ts);
SELECT partman.create_parent('public.time_events', 'ts', 'native', 'weekly',
                             p_premake := 20,
                             p_start_partition := (SELECT date_trunc('week', min(ts))::text FROM sample.events));
INSERT INTO public.time_events SELECT * FROM sample.events;

CREATE TABLE public.hash_events (LIKE sample.events) PARTITION BY HASH (user_id);
CREATE TABLE public.hash_events_0 PARTITION OF public.hash_events FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE public.hash_events_1 PARTITION OF public.hash_events FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE public.hash_events_2 PARTITION OF public.hash_events FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE public.hash_events_3 PARTITION OF public.hash_events FOR VALUES WITH (MODULUS 4, REMAINDER 3);
INSERT INTO public.hash_events SELECT * FROM sample.events;
ANALYZE public.local_events, public.time_events, public.hash_events;
SQL
av_psql "$port" -At -c "
  SELECT format('time_events: %s rows in %s partitions by pg_partman (%s in the default partition); hash_events: %s rows in %s partitions',
    (SELECT count(*) FROM public.time_events),
    (SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.time_events'::regclass),
    (SELECT count(*) FROM public.time_events_default),
    (SELECT count(*) FROM public.hash_events),
    (SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.hash_events'::regclass))"

export PGOPTIONS="-c enable_partitionwise_aggregate=on -c enable_partitionwise_join=on"
scale_compare "partman weekly" "$port" public.local_events public.time_events
scale_compare "hash x4" "$port" public.local_events public.hash_events
PGOPTIONS+=" -c parallel_setup_cost=0 -c parallel_tuple_cost=0 -c min_parallel_table_scan_size=0"
PGOPTIONS+=" -c max_parallel_workers_per_gather=4 -c parallel_leader_participation=off"
scale_compare "hash x4, parallel" "$port" public.local_events public.hash_events
unset PGOPTIONS

# The per-user query really is aggregated partition-wise on the hash table.
plan=$(PGOPTIONS="-c enable_partitionwise_aggregate=on" av_psql "$port" -At -c \
  "EXPLAIN (COSTS OFF) SELECT user_id, apivalue.window_funnel('1 day', ts, event = 'signup', event = 'first_call') FROM public.hash_events GROUP BY user_id")
aggs=$(grep -cE 'Aggregate' <<<"$plan" || true)
if [ "$aggs" -lt 4 ]; then
  echo "  per-user funnel on hash_events is not aggregated partition-wise:"; echo "$plan" | head -n 20
  scale_fail=$((scale_fail + 1))
else
  echo "  per-user funnel on hash_events: $aggs aggregate nodes (one per partition)"
fi
echo "partitions layer: $scale_pass passed, $scale_fail failed"
[ "$scale_fail" -eq 0 ] && [ "$scale_pass" -gt 0 ]
