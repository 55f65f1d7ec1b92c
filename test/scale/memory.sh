#!/usr/bin/env bash
# Memory check, run by hand (takes a few minutes; not part of the CI suite):
#   test/scale/memory.sh [EVENTS_IN_ONE_USER] [USERS]     (default 10000000 1000000)
# 1. One user with EVENTS events: window_funnel, sequence_match and
#    journey_path each aggregate the whole group (their state buffers every
#    event).  Reports the backend's peak memory growth (VmHWM) per event:
#    the state size per event.  Must finish, not crash.
# 2. USERS users with 3 events each, grouped by user with work_mem = 64MB:
#    hash aggregation must spill to disk (EXPLAIN ANALYZE shows the batches)
#    or stay within limits, and finish.
# Uses a throw-away cluster from test/lib/clusters.sh (AV_PGBIN selects the
# PostgreSQL binaries; the installed apivalue is used).
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/clusters.sh
events=${1:-10000000}
users=${2:-1000000}
read -r port < <(av_free_ports 1 55470)
av_cluster_start memory "$port" shared_buffers=1GB work_mem=64MB max_parallel_workers_per_gather=0 >/dev/null
q() { av_psql "$port" -At "$@"; }
q -c "CREATE EXTENSION apivalue" >/dev/null
t0=$(date +%s)
q >/dev/null <<SQL
CREATE UNLOGGED TABLE one_user AS
SELECT 1 AS user_id, timestamptz '2024-01-01' + i * interval '1 second' AS ts,
       (ARRAY['signup', 'create_key', 'first_call', 'api_call', 'view_docs'])[1 + (i * 7919) % 5] AS event
FROM generate_series(1, $events::bigint) i;
CREATE UNLOGGED TABLE many_users AS
SELECT u AS user_id, timestamptz '2024-01-01' + (u % 86400) * interval '1 second' + k * interval '1 hour' AS ts,
       (ARRAY['signup', 'create_key', 'first_call'])[k + 1] AS event
FROM generate_series(1, $users) u, generate_series(0, 2) k;
VACUUM ANALYZE one_user; VACUUM ANALYZE many_users;
SQL
echo "memory: one user with $events events, $users users x 3 events (generated in $(( $(date +%s) - t0 )) s)"

# Peak memory of a fresh backend running one query, minus its peak idle.
peak() {
  local sql=$1
  q <<SQL
SELECT pg_backend_pid() AS pid \\gset
SELECT (regexp_match(pg_read_file('/proc/' || :pid || '/status'), 'VmHWM:\\s+(\\d+)'))[1]::bigint AS before \\gset
\\o /dev/null
$sql;
\\o
SELECT (regexp_match(pg_read_file('/proc/' || :pid || '/status'), 'VmHWM:\\s+(\\d+)'))[1]::bigint - :before;
SQL
}
printf '%-16s %10s %12s %16s\n' aggregate seconds "peak MB" "bytes per event"
for agg in "window_funnel('1 day', ts, event = 'signup', event = 'create_key', event = 'first_call')" \
           "sequence_match('(?1).*(?2).*(?3)', ts, event = 'signup', event = 'create_key', event = 'first_call')" \
           "journey_path(ts, event, 10)"; do
  name=${agg%%(*}
  s=$(date +%s%N)
  kb=$(peak "SELECT user_id, apivalue.$agg FROM one_user GROUP BY user_id")
  ms=$(( ($(date +%s%N) - s) / 1000000 ))
  awk -v n="$name" -v ms="$ms" -v kb="$kb" -v ev="$events" \
    'BEGIN { printf "%-16s %10.1f %12.1f %16.1f\n", n, ms / 1000, kb / 1024, kb * 1024 / ev }'
done

echo "1M-user GROUP BY (work_mem = 64MB, hash aggregation):"
for agg in "window_funnel('1 day', ts, event = 'signup', event = 'create_key', event = 'first_call')" \
           "sequence_match('(?1).*(?2)', ts, event = 'signup', event = 'first_call')" \
           "journey_path(ts, event, 5)"; do
  name=${agg%%(*}
  s=$(date +%s%N)
  plan=$(q -c "SET enable_sort = off" -c "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) SELECT user_id, apivalue.$agg FROM many_users GROUP BY user_id")
  ms=$(( ($(date +%s%N) - s) / 1000000 ))
  printf '  %-16s %6.1f s  %s\n' "$name" "$(awk -v m="$ms" 'BEGIN { print m / 1000 }')" \
    "$(grep -m1 -oE 'Batches: [0-9]+.*' <<<"$plan")"
done
echo "memory: done, server alive: $(q -c 'SELECT 1')"
