#!/usr/bin/env bash
# apivalue benchmark harness (a benchmark, not a test: it asserts nothing).
#   scripts/bench.sh [--events N] [--runs R] [--parallel W[,W...]] [--no-build] [case ...]
#     --events N    sample events to generate (default 10000000; users = N / 50)
#     --runs R      timed runs of each query; the median is reported (default 3)
#     --parallel W  max_parallel_workers_per_gather for the timed queries; a
#                   comma list (0,2) times every case under each (default 2)
#     --no-build    skip deps, build and install: benchmark the extension
#                   installed in the machine's PostgreSQL (the caller built
#                   and installed it, under the install lock:
#                   test/layers/bench_smoke.sh)
#     case ...      names of files in test/bench/cases (default: all)
# Without --no-build it builds the work tree and installs it into a private
# copy of the PostgreSQL installation (test/lib/private_pg.sh; one per work
# tree, under /tmp), so a long benchmark never holds the machine-wide install
# lock nor sees another tree's library.  Starts a throw-away cluster sized
# for the run, loads the sample data set, VACUUM ANALYZE, then runs
# test/bench/run.sh, which prints one table: case, apivalue ms, hand SQL ms,
# floor ms, ratios.  Case file format: "Benchmarks" in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

events=10000000 runs=3 workers=2 build=1
cases=()
while [ $# -gt 0 ]; do
  case $1 in
    --events)   events=$2; shift 2 ;;
    --runs)     runs=$2; shift 2 ;;
    --parallel) workers=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help)  sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "bench.sh: unknown option \"$1\"" >&2; exit 2 ;;
    *)  cases+=("$1"); shift ;;
  esac
done
case $events in ''|*[!0-9]*|0) echo "bench.sh: --events needs a positive integer, not \"$events\"" >&2; exit 2 ;; esac
case $runs in ''|*[!0-9]*|0) echo "bench.sh: --runs needs a positive integer, not \"$runs\"" >&2; exit 2 ;; esac
[[ $workers =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "bench.sh: --parallel needs workers like 2 or 0,2, not \"$workers\"" >&2; exit 2; }

if [ $build -eq 1 ]; then
  scripts/deps.sh
  source test/lib/private_pg.sh
  private=/tmp/apivalue-bench-pg.$(printf '%s' "$PWD" | md5sum | cut -c1-8)
  # One build-install-benchmark at a time per work tree.
  exec 8>"$private.lock"
  flock 8
  pgc=$(av_private_pg "$private")
  make -s -j"$(nproc)" PG_CONFIG="$pgc" >/dev/null
  make -s install PG_CONFIG="$pgc" >/dev/null
  export AV_PGBIN=${pgc%/pg_config}
fi

maxw=0
IFS=, read -r -a wl <<< "$workers"
for w in "${wl[@]}"; do [ "$w" -gt "$maxw" ] && maxw=$w; done
# Small runs get a small cluster; 10M events want the table mostly cached.
if [ "$events" -ge 1000000 ]; then sb=2GB; else sb=256MB; fi
opts=(-o "shared_buffers=$sb" -o work_mem=256MB -o maintenance_work_mem=512MB
      -o max_parallel_workers_per_gather="$maxw" -o max_parallel_workers="$((maxw > 8 ? maxw : 8))"
      -o max_worker_processes="$((maxw > 8 ? maxw + 8 : 16))"
      -o jit=off -o wal_level=minimal -o max_wal_senders=0 -o checkpoint_timeout=30min
      -o max_wal_size=8GB)

# pg_virtualenv picks a free port when it creates the cluster; two clusters
# starting at once on a shared machine can collide.  The command has not run
# yet then, so trying again is safe.
cluster() {
  local err rc tries=0
  err=$(mktemp)
  while :; do
    rc=0
    pg_virtualenv -t "$@" 2>"$err" || rc=$?
    if [ $rc -ne 0 ] && grep -q 'Port conflict' "$err" && [ $((tries += 1)) -lt 5 ]; then
      sleep $((RANDOM % 3 + 1)); continue
    fi
    grep -vE '^(Creating new PostgreSQL cluster|Dropping cluster)' "$err" >&2 || true
    rm -f "$err"
    return $rc
  done
}

if [ $build -eq 0 ]; then
  cluster "${opts[@]}" bash test/bench/run.sh "$events" "$runs" "$workers" "${cases[@]+"${cases[@]}"}"
else
  # The private installation's binaries: a cluster of test/lib/clusters.sh.
  source test/lib/clusters.sh
  read -r port < <(av_free_ports 1 55380)
  settings=()
  for ((i = 1; i < ${#opts[@]}; i += 2)); do settings+=("${opts[i]}"); done
  av_cluster_start bench "$port" "${settings[@]}" >/dev/null 8>&-
  PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres \
    bash test/bench/run.sh "$events" "$runs" "$workers" "${cases[@]+"${cases[@]}"}" 8>&-
fi
