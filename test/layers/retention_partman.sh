#!/usr/bin/env bash
# test/layers/retention_partman.sh — retention on a pg_partman-managed table,
# scheduled with pg_cron.
#
# In a throw-away cluster with pg_cron preloaded and pg_partman installed:
# 1. a table partitioned daily by pg_partman (native) with a row every 30
#    minutes over 10 days; a retention policy of 3 days 6 hours;
# 2. a dry run counts exactly the rows older than the cutoff and names the
#    partitions pg_partman would drop, and changes nothing;
# 3. CALL apply_retention_policies_batched(): pg_partman drops the old
#    partitions (its part_config stays), batches thin the boundary and the
#    default partition; exactly the rows older than the logged cutoff are
#    gone (compared with a copy), no newer row; a second run removes nothing;
# 4. schedule_retention_policies('* * * * *'): the pg_cron job runs the
#    procedure (COMMITs and all) and removes rows planted after step 3.
# Exits 0 on pass.
set -euo pipefail

run() {
  psql -X -v ON_ERROR_STOP=1 -q <<'SQL'
CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;
CREATE EXTENSION pg_cron;
CREATE EXTENSION apivalue;
CREATE TABLE public.pm_events (id bigint, ts timestamptz NOT NULL, v text) PARTITION BY RANGE (ts);
SELECT partman.create_parent('public.pm_events', 'ts', 'native', 'daily',
                             p_start_partition => (now() - interval '10 days')::text, p_premake => 2);
INSERT INTO pm_events
SELECT g, now() - g * interval '30 minutes', 'row ' || g FROM generate_series(1, 10 * 48 - 1) g;
-- a few rows older than every partition: they land in the default partition
INSERT INTO pm_events SELECT 100000 + g, now() - interval '40 days' - g * interval '1 hour', 'old' FROM generate_series(1, 7) g;
CREATE TABLE pm_ref AS SELECT id, ts FROM pm_events;
SELECT (apivalue.add_retention_policy('pm_events', 'ts', '3 days 6 hours', batch_size => 25)).policy_id;
SQL

  q() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
  check() {  # $1 = label, $2 = query returning t
    local v; v=$(q "$2")
    if [ "$v" != "t" ]; then echo "FAIL: $1 (got '$v')"; return 1; fi
    echo "ok: $1"
  }

  echo "partitions: $(q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'pm_events'::regclass")"
  q "SELECT * FROM apivalue.apply_retention_policies()" >/dev/null
  check "dry run counts the rows older than the cutoff" \
    "SELECT rows_affected = (SELECT count(*) FROM pm_ref WHERE ts < l.cutoff) FROM apivalue.retention_log l WHERE dry_run"
  check "dry run names the partitions pg_partman would drop" \
    "SELECT cardinality(partitions) > 0 AND cardinality(partitions) = (SELECT count(*) FROM partman.show_partitions('public.pm_events') s,
            LATERAL partman.show_partition_info(s.partition_schemaname || '.' || s.partition_tablename, '1 day', 'public.pm_events') i
            WHERE i.child_start_time + interval '1 day' < l.cutoff) FROM apivalue.retention_log l WHERE dry_run"
  check "dry run changes nothing" "SELECT (SELECT count(*) FROM pm_events) = (SELECT count(*) FROM pm_ref)"

  psql -X -v ON_ERROR_STOP=1 -q -c "CALL apivalue.apply_retention_policies_batched()" >/dev/null
  q "SELECT status, rows_affected, partition_rows, rows_deleted, batches, partitions FROM apivalue.retention_log WHERE NOT dry_run"
  check "run finished" "SELECT status = 'done' FROM apivalue.retention_log WHERE NOT dry_run"
  check "exactly the rows older than the cutoff removed" \
    "SELECT l.rows_affected = (SELECT count(*) FROM pm_ref WHERE ts < l.cutoff)
        AND NOT EXISTS (SELECT 1 FROM pm_ref r JOIN pm_events e ON e.id = r.id WHERE r.ts < l.cutoff)
        AND (SELECT count(*) FROM pm_events) = (SELECT count(*) FROM pm_ref WHERE ts >= l.cutoff)
     FROM apivalue.retention_log l WHERE NOT dry_run"
  check "no newer row removed" \
    "SELECT NOT EXISTS (SELECT 1 FROM pm_ref r, apivalue.retention_log l WHERE NOT l.dry_run AND r.ts >= l.cutoff
                          AND NOT EXISTS (SELECT 1 FROM pm_events e WHERE e.id = r.id))"
  check "old partitions dropped by pg_partman, the default thinned in batches" \
    "SELECT cardinality(partitions) > 0 AND partition_rows > 0 AND rows_deleted >= 7
        AND NOT EXISTS (SELECT 1 FROM unnest(partitions) x WHERE to_regclass(x) IS NOT NULL)
     FROM apivalue.retention_log WHERE NOT dry_run"
  check "pg_partman still manages the table" \
    "SELECT EXISTS (SELECT 1 FROM partman.part_config WHERE parent_table = 'public.pm_events')"

  psql -X -v ON_ERROR_STOP=1 -q -c "CALL apivalue.apply_retention_policies_batched()" >/dev/null
  check "a second run removes nothing" \
    "SELECT rows_affected = 0 AND status = 'done' FROM apivalue.retention_log WHERE NOT dry_run ORDER BY run_id DESC LIMIT 1"

  # pg_cron: plant old rows (default partition), schedule every minute.
  q "INSERT INTO pm_events SELECT 200000 + g, now() - interval '20 days' - g * interval '1 hour', 'late arrival' FROM generate_series(1, 30) g" >/dev/null
  q "SELECT apivalue.schedule_retention_policies('* * * * *')" >/dev/null
  q "SELECT jobname, schedule, command FROM cron.job"
  for _ in $(seq 1 90); do
    n=$(q "SELECT count(*) FROM apivalue.retention_log WHERE NOT dry_run AND rows_affected = 30 AND status = 'done'")
    if [ "$n" -gt 0 ]; then
      check "the pg_cron job removed the planted rows" \
        "SELECT NOT EXISTS (SELECT 1 FROM pm_events WHERE id > 200000)"
      check "the job ran as the scheduling role" \
        "SELECT run_by = current_user AND mode = 'procedure' FROM apivalue.retention_log WHERE rows_affected = 30"
      q "SELECT apivalue.unschedule_retention_policies()" >/dev/null
      return 0
    fi
    sleep 1
  done
  echo "FAIL: no retention run by pg_cron within 90 s"
  q "SELECT * FROM cron.job_run_details" || true
  q "SELECT * FROM apivalue.retention_log" || true
  return 1
}

export -f run
pg_virtualenv -t -o shared_preload_libraries=pg_cron -o cron.database_name=postgres \
  -o cron.use_background_workers=on bash -c run
echo "retention_partman layer passed"
