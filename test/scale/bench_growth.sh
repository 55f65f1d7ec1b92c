#!/usr/bin/env bash
# The benchmark at two sizes, and the growth from one to the other (a
# benchmark, not a test; run by hand):
#   test/scale/bench_growth.sh [--small N] [--large N] [--runs R] [--parallel W[,W]] [--no-build] [case ...]
#     defaults: --small 1000000 --large 10000000 --runs 3 --parallel 0,2
#     --large 0 runs only the small size.
# Runs test/bench/run.sh (the harness behind scripts/bench.sh, same cluster
# settings) in a throw-away cluster per size, both up at once, each case at
# the small size and then at the large one, and prints, per case and
# workers, the times and the large/small growth of the apivalue, hand and
# floor queries, and the apivalue growth over the floor's (linear scaling:
# growth close to large/small events, growth/floor close to 1).  Without --no-build
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

# Both sizes live in clusters of their own, started together; each case
# then runs at the small size and at once at the large one, so a change of
# the machine's load during the (long) run hits both sides of a growth
# figure alike instead of one size's whole pass.
sizes=("$small"); [ "$large" -gt 0 ] && sizes+=("$large")
declare -A port_of
read -r -a ports < <(av_free_ports "${#sizes[@]}" 55480)
i=0
for n in "${sizes[@]}"; do
  sb=256MB; [ "$n" -ge 1000000 ] && sb=2GB
  port_of[$n]=${ports[i]}; i=$((i + 1))
  av_cluster_start "bench-$n" "${port_of[$n]}" shared_buffers=$sb work_mem=256MB maintenance_work_mem=512MB \
    max_parallel_workers_per_gather=2 max_parallel_workers=8 max_worker_processes=16 jit=off \
    wal_level=minimal max_wal_senders=0 checkpoint_timeout=30min max_wal_size=8GB >/dev/null 9>&-
done
at() {   # at EVENTS run.sh-args...: test/bench/run.sh against that size's cluster
  local n=$1; shift
  PGHOST=127.0.0.1 PGPORT=${port_of[$n]} PGUSER=postgres PGDATABASE=postgres \
    bash test/bench/run.sh "$n" "$@" 9>&-
}
for n in "${sizes[@]}"; do AV_BENCH_GENERATE_ONLY=1 at "$n" 1 0 scan_floor; done
if [ ${#cases[@]} -eq 0 ]; then
  for f in test/bench/cases/*.sql; do cases+=("$(basename "$f" .sql)"); done
fi
for c in "${cases[@]}"; do
  for n in "${sizes[@]}"; do
    AV_BENCH_REUSE=1 at "$n" "$runs" "$workers" "$c" | tee -a "$out/$n.txt"
  done
done
av_clusters_stop; AV_CLUSTER_ROOT= AV_CLUSTER_PORTS=()

table() { awk '/^case +workers/ { on = 1; next } on && NF == 7 && $2 ~ /^[0-9]+$/ { print }' "$1"; }
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
if [ "$large" -gt 0 ]; then
  echo "growth $small -> $large events (linear: $(awk -v a="$small" -v b="$large" 'BEGIN { printf "%.1f", b / a }')x)"
  join <(table "$out/$small.txt" | awk '{ print $1 "/" $2, $3, $4, $5 }' | sort) \
       <(table "$out/$large.txt" | awk '{ print $1 "/" $2, $3, $4, $5 }' | sort) |
  # growth/floor: the apivalue time's growth over the floor's, measured
  # side by side: 1.0 means apivalue scales exactly as scanning and
  # grouping the events does.
  awk 'BEGIN { printf "%-40s %10s %10s %7s %10s %10s %7s %10s %10s %7s %12s\n", "case/workers", "apivalue S", "apivalue L", "growth", "hand S", "hand L", "growth", "floor S", "floor L", "growth", "growth/floor" }
       function g(a, b) { return (a == "-" || b == "-" || a == 0) ? "-" : sprintf("%.1fx", b / a) }
       function rel(a, b, fa, fb) { return (a == "-" || b == "-" || fa == "-" || fb == "-" || a == 0 || fb == 0) ? "-" : sprintf("%.2f", (b / a) / (fb / fa)) }
       { printf "%-40s %10s %10s %7s %10s %10s %7s %10s %10s %7s %12s\n", $1, $2, $5, g($2, $5), $3, $6, g($3, $6), $4, $7, g($4, $7), rel($2, $5, $4, $7) }'
fi
rm -rf "$out"
