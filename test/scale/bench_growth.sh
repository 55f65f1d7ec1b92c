#!/usr/bin/env bash
# The benchmark at two sizes, and the growth from one to the other (a
# benchmark, not a test; run by hand):
#   test/scale/bench_growth.sh [--small N] [--large N] [--runs R] [--parallel W[,W]] [--no-build] [case ...]
#     defaults: --small 1000000 --large 10000000 --runs 3 --parallel 0,2
#     --large 0 runs only the small size.
# Runs test/bench/run.sh (the harness behind scripts/bench.sh, same cluster
# settings) in a throw-away cluster per size, then prints, per case and
# workers, both tables' times and large/small growth of the apivalue time
# (linear scaling: growth close to large/small events).  Without --no-build
# it builds and installs the extension under the install lock, held to the
# end, as scripts/bench.sh does.  AV_PGBIN selects the PostgreSQL binaries.
set -euo pipefail
cd "$(dirname "$0")/../.."
small=1000000 large=10000000 runs=3 workers=0,2 build=1
cases=()
while [ $# -gt 0 ]; do
  case $1 in
    --small) small=$2; shift 2 ;;
    --large) large=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --parallel) workers=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "bench_growth.sh: unknown option \"$1\"" >&2; exit 2 ;;
    *) cases+=("$1"); shift ;;
  esac
done
if [ $build -eq 1 ]; then
  scripts/deps.sh
  exec 9>/tmp/apivalue-install.lock
  flock 9
  make -s -j"$(nproc)" >/dev/null
  make -s install >/dev/null
fi
source test/lib/clusters.sh
out=$(mktemp -d)

run_size() {   # $1 = events
  local n=$1 port sb=256MB
  [ "$n" -ge 1000000 ] && sb=2GB
  read -r port < <(av_free_ports 1 55480)
  av_cluster_start "bench-$n" "$port" shared_buffers=$sb work_mem=256MB maintenance_work_mem=512MB \
    max_parallel_workers_per_gather=2 max_parallel_workers=8 max_worker_processes=16 jit=off \
    wal_level=minimal max_wal_senders=0 checkpoint_timeout=30min max_wal_size=8GB >/dev/null 9>&-
  PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres \
    bash test/bench/run.sh "$n" "$runs" "$workers" "${cases[@]+"${cases[@]}"}" 9>&- | tee "$out/$n.txt"
  av_clusters_stop; AV_CLUSTER_ROOT= AV_CLUSTER_PORTS=()
}
run_size "$small"
[ "$large" -gt 0 ] && run_size "$large"

table() { awk '/^case +workers/ { on = 1; next } on && NF >= 5 { print }' "$1"; }
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
if [ "$large" -gt 0 ]; then
  echo "growth $small -> $large events (linear: $(awk -v a="$small" -v b="$large" 'BEGIN { printf "%.1f", b / a }')x)"
  join <(table "$out/$small.txt" | awk '{ print $1 "/" $2, $3, $4, $5 }' | sort) \
       <(table "$out/$large.txt" | awk '{ print $1 "/" $2, $3, $4, $5 }' | sort) |
  awk 'BEGIN { printf "%-36s %12s %12s %9s %12s %12s %9s\n", "case/workers", "apivalue S", "apivalue L", "growth", "hand S", "hand L", "growth" }
       function g(a, b) { return (a == "-" || b == "-" || a == 0) ? "-" : sprintf("%.1fx", b / a) }
       { printf "%-36s %12s %12s %9s %12s %12s %9s\n", $1, $2, $5, g($2, $5), $3, $6, g($3, $6) }'
fi
rm -rf "$out"
