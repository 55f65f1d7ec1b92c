#!/usr/bin/env bash
# test/layers/pg_cron.sh — quality checks scheduled with pg_cron.
#
# 1. A throw-away cluster with pg_cron preloaded (background workers, so jobs
#    need no password over TCP): register a check, schedule all checks every
#    minute, and wait up to 75 s for a quality_results row written by the job.
# 2. A cluster without pg_cron: schedule_quality_checks raises the clear
#    error (SQLSTATE 55000) naming the Debian package.
# Exits 0 on pass.
set -euo pipefail

with_cron() {
  psql -X -v ON_ERROR_STOP=1 -q <<'SQL'
CREATE EXTENSION pg_cron;
CREATE EXTENSION apivalue;
CREATE TABLE cron_events (device text, seq bigint, ts timestamptz);
INSERT INTO cron_events VALUES ('d1', 1, now()), ('d1', 2, now()), ('d1', 5, now());
SELECT (apivalue.add_quality_check('cron_seq', 'cron_events', 'sequence_gap',
  '{"device_column": "device", "seq_column": "seq"}')).name AS added;
SELECT apivalue.schedule_quality_checks('* * * * *') > 0 AS scheduled;
SELECT jobname, schedule, command FROM cron.job;
SQL
  for _ in $(seq 1 75); do
    n=$(psql -X -At -c "SELECT count(*) FROM apivalue.quality_results WHERE check_name = 'cron_seq'")
    if [ "$n" -gt 0 ]; then
      psql -X -At -c "SELECT 'job wrote: ' || status || ' observed=' || observed FROM apivalue.quality_results WHERE check_name = 'cron_seq'"
      st=$(psql -X -At -c "SELECT status || '/' || observed FROM apivalue.quality_results WHERE check_name = 'cron_seq' LIMIT 1")
      [ "$st" = "fail/2" ] || { echo "unexpected result $st (expected fail/2)"; return 1; }
      psql -X -At -c "SELECT apivalue.unschedule_quality_checks()"
      return 0
    fi
    sleep 1
  done
  echo "no quality_results row written by pg_cron within 75 s"
  psql -X -c "SELECT * FROM cron.job_run_details" || true
  return 1
}

without_cron() {
  psql -X -q -c "CREATE EXTENSION apivalue"
  out=$(psql -X -v ON_ERROR_STOP=1 -c "\\set VERBOSITY verbose" \
          -c "SELECT apivalue.schedule_quality_checks('0 * * * *')" 2>&1 || true)
  echo "$out"
  echo "$out" | grep -q "55000" || { echo "expected SQLSTATE 55000"; return 1; }
  echo "$out" | grep -q "postgresql-15-cron" || { echo "expected the Debian package in the hint"; return 1; }
  echo "$out" | grep -q "shared_preload_libraries" || { echo "expected shared_preload_libraries in the hint"; return 1; }
}

export -f with_cron without_cron
echo "-- with pg_cron"
pg_virtualenv -t -o shared_preload_libraries=pg_cron -o cron.database_name=postgres \
  -o cron.use_background_workers=on bash -c with_cron
echo "-- without pg_cron"
pg_virtualenv -t bash -c without_cron
echo "pg_cron layer passed"
