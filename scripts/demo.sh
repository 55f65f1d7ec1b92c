#!/usr/bin/env bash
# apivalue demo, on a fresh Debian 12 machine as root:
#   scripts/demo.sh               ~100k sample events (2000 users)
#   scripts/demo.sh --users N     another scale (about 50 events per user)
#
# Installs the packages it needs (scripts/deps.sh), builds and installs the
# extension, starts a throw-away cluster (pg_virtualenv), creates the
# extension, loads the deterministic sample data set (test/data/sample.sql)
# and prints the value report (test/data/report.sql).  The cluster is gone
# when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

users=2000
while [ $# -gt 0 ]; do
  case $1 in
    --users) users=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument \"$1\"" >&2; exit 2 ;;
  esac
done
case $users in ''|*[!0-9]*) echo "demo.sh: --users needs a positive integer, not \"$users\"" >&2; exit 2 ;; esac

t0=$(date +%s)
scripts/deps.sh
# One build-install at a time per machine (shared install directory); held
# until the demo ends so nobody replaces the library under our cluster.
exec 9>/tmp/apivalue-install.lock
flock 9
tl=$(date +%s)
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
t1=$(date +%s)

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

mkdir -p test/out
report=$PWD/test/out/value_report.html
echo "apivalue demo: $users users (about $((users * 50)) events) in a throw-away cluster"
cluster psql -X -q -v ON_ERROR_STOP=1 \
  -c 'SET client_min_messages = warning' \
  -c 'CREATE EXTENSION apivalue' \
  -f test/data/sample.sql \
  -c '\timing on' \
  -c "SELECT sample.generate(users => $users) AS events_generated" \
  -c '\timing off' \
  -v report_file="$report" \
  -f test/data/report.sql
t2=$(date +%s)
echo
echo "apivalue demo: the value report as one HTML page: $report"
echo "apivalue demo: deps $((tl - t0)) s (with waiting for the install lock), build+install $((t1 - tl)) s," \
     "cluster+data+report $((t2 - t1)) s, total $((t2 - t0)) s"
