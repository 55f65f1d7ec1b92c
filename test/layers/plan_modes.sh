#!/usr/bin/env bash
# Plan-mode equality layer: every aggregate of the extension (found in the
# catalog, called through the templates of test/planmodes/planmodes.sql; an
# aggregate without a template fails the layer) on 22 seeded data sets gives
# identical answers serial, with forced parallel partial aggregation (4
# workers, leader off), under force_parallel_mode = regress, and partition-wise
# over 4 hash partitions without and with parallel workers.  EXPLAIN ANALYZE
# proves a Partial Aggregate ran on workers in the parallel modes.
#   APIVALUE_PLANMODES_ONLY='apivalue.sum_arrays(integer[])'  one aggregate only
set -euo pipefail
cd "$(dirname "$0")/../.."

source test/lib/clusters.sh
read -r port < <(av_free_ports 1 55460)
av_cluster_start plan-modes "$port" max_worker_processes=16 max_parallel_workers=8 work_mem=64MB >/dev/null

psqlq() { av_psql "$port" "$@"; }
only=${APIVALUE_PLANMODES_ONLY:-}
start=$(date +%s)
psqlq -f test/planmodes/planmodes.sql >/dev/null
echo "plan modes: $(psqlq -At -c "SELECT count(*) FROM pm.aggregate") aggregates of the extension," \
     "$(psqlq -At -c "SELECT count(*) FROM pm.dataset") data sets, $(psqlq -At -c "SELECT count(*) FROM pm.ev") rows"
for mode in serial parallel regress pw_serial pw_parallel; do
  t0=$(date +%s)
  if [ -n "$only" ]; then
    n=$(echo "SELECT pm.run_mode('$mode', :'sig')" | psqlq -At -v sig="$only")
  else
    n=$(psqlq -At -c "SELECT pm.run_mode('$mode')")
  fi
  echo "  mode $mode: $n queries in $(( $(date +%s) - t0 )) s"
done
out=$(psqlq -At -f test/planmodes/report.sql)
echo "$out"
echo "plan modes: $(( $(date +%s) - start )) s"
grep -qx 'failures: 0' <<<"$out"
