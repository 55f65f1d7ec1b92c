#!/usr/bin/env bash
# Times a full apivalue.run_quality_checks() over the sample data set, run by
# hand (a benchmark, not a test: it asserts nothing):
#   test/scale/quality_run_checks.sh [EVENTS] [RUNS]      (default 1000000 3)
# Builds the work tree into a private copy of the PostgreSQL installation
# (test/lib/private_pg.sh, as scripts/bench.sh does), starts a throw-away
# cluster with the benchmark's settings (parallel query as the server
# defaults: max_parallel_workers_per_gather = 2), generates the sample data
# set (users = EVENTS / 50), registers the checks the demo registers
# (test/data/report.sql, section 7) plus a near-duplicate check (fingerprint
# user_id || event within 1 second), and runs run_quality_checks() RUNS
# times.  Prints each run's wall time and, per check, the median of the
# durations recorded in apivalue.quality_results.
set -euo pipefail
cd "$(dirname "$0")/../.."

events=${1:-1000000}
runs=${2:-3}
case $events in ''|*[!0-9]*|0) echo "quality_run_checks: EVENTS must be a positive integer" >&2; exit 2 ;; esac
case $runs in ''|*[!0-9]*|0) echo "quality_run_checks: RUNS must be a positive integer" >&2; exit 2 ;; esac
users=$((events / 50)); [ "$users" -ge 1 ] || users=1

scripts/deps.sh
source test/lib/private_pg.sh
private=/tmp/apivalue-bench-pg.$(printf '%s' "$PWD" | md5sum | cut -c1-8)
exec 8>"$private.lock"
flock 8
pgc=$(av_private_pg "$private")
make -s -j"$(nproc)" PG_CONFIG="$pgc" >/dev/null
make -s install PG_CONFIG="$pgc" >/dev/null
export AV_PGBIN=${pgc%/pg_config}
source test/lib/clusters.sh
if [ "$events" -ge 1000000 ]; then sb=2GB; else sb=256MB; fi
read -r port < <(av_free_ports 1 55390)
av_cluster_start quality "$port" shared_buffers=$sb work_mem=256MB maintenance_work_mem=512MB \
  max_parallel_workers_per_gather=2 max_parallel_workers=8 max_worker_processes=16 jit=off \
  wal_level=minimal max_wal_senders=0 checkpoint_timeout=30min max_wal_size=8GB >/dev/null 8>&-
q() { av_psql "$port" -At "$@"; }

t0=$(date +%s%N)
q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION apivalue' \
  -f test/data/sample.sql -c "SELECT sample.generate(users => $users)" >/dev/null
q -c 'VACUUM ANALYZE sample.events' >/dev/null
echo "quality_run_checks: $(q -c 'SELECT count(*) FROM sample.events') events, generated in $(( ($(date +%s%N) - t0) / 1000000000 )) s"

q >/dev/null <<'SQL'
SELECT apivalue.add_quality_check('events_clock_skew', 'sample.events', 'clock_skew',
         '{"device_column": "device_id", "client_ts_column": "ts", "sent_at_column": "sent_at", "received_at_column": "received_at"}',
         warn_threshold => 0, fail_threshold => 3);
SELECT apivalue.add_quality_check('events_duplicates', 'sample.events', 'exact_duplicate',
         '{"key": "event_id", "time_column": "received_at"}', warn_threshold => 0, fail_threshold => 1000);
SELECT apivalue.add_quality_check('events_sequence_gaps', 'sample.events', 'sequence_gap',
         '{"device_column": "device_id", "seq_column": "seq"}', warn_threshold => 0, fail_threshold => 5000);
SELECT apivalue.add_quality_check('events_dead_time', 'sample.events', 'dead_time',
         '{"time_column": "received_at", "max_gap": "90 minutes"}', warn_threshold => 0, fail_threshold => 3600);
SELECT apivalue.add_quality_check('events_nulls', 'sample.events', 'null_rate',
         '{"columns": ["user_id", "event", "ts"]}', warn_threshold => 0.01, fail_threshold => 0.1);
SELECT apivalue.add_quality_check('events_near_duplicates', 'sample.events', 'near_duplicate',
         '{"key": "user_id || event", "time_column": "ts", "tolerance": "1 second"}',
         warn_threshold => 0, fail_threshold => 1000);
SQL

for ((r = 1; r <= runs; r++)); do
  t0=$(date +%s%N)
  q -c 'SELECT count(*) FROM apivalue.run_quality_checks()' >/dev/null
  echo "run $r: run_quality_checks() $(( ($(date +%s%N) - t0) / 1000000 )) ms"
done
echo "per check (median of $runs runs; status, observed of the last run):"
q -F ' | ' <<'SQL'
SELECT r.check_name,
       round(1000 * extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY r.duration))) || ' ms',
       (array_agg(r.status ORDER BY r.run_id DESC))[1],
       (array_agg(r.observed ORDER BY r.run_id DESC))[1]
FROM apivalue.quality_results r GROUP BY r.check_name ORDER BY r.check_name;
SQL
