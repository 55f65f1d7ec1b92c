#!/usr/bin/env bash
# Isolation layer: test/isolation/specs/*.spec run by pg_isolation_regress
# (PostgreSQL's isolationtester: several sessions, steps interleaved in the
# permutations each spec lists, a step that blocks on a lock shown as
# <waiting ...>) against the installed extension, in a throw-away cluster.
# Each spec's output must equal test/isolation/expected/<spec>.out.
# Results and regression.diffs in test/out/isolation/.
#   scripts/test.sh runs it; standalone: bash test/layers/isolation.sh [spec...]
set -euo pipefail
cd "$(dirname "$0")/../.."
# Standalone runs test this work tree's build: take the install lock, build and
# install.  Under scripts/test.sh (APIVALUE_LOCK_HELD=1) that is done already.
if [ -z "${APIVALUE_LOCK_HELD:-}" ]; then
  exec 9>/tmp/apivalue-install.lock
  flock 9
  make -s -j"$(nproc)" >/dev/null
  make -s install >/dev/null
  export APIVALUE_LOCK_HELD=1
fi
bindir=$(pg_config --pkglibdir)/pgxs/src/test/isolation
[ -x "$bindir/pg_isolation_regress" ] && [ -x "$bindir/isolationtester" ] || {
  echo "pg_isolation_regress or isolationtester missing in $bindir (Debian package postgresql-client-15)" >&2
  exit 1
}
out=test/out/isolation
rm -rf "$out"; mkdir -p "$out"
if [ $# -gt 0 ]; then
  specs=("$@")
else
  specs=()
  for f in test/isolation/specs/*.spec; do specs+=("$(basename "$f" .spec)"); done
fi

# deadlock_timeout: how long a blocked session waits before PostgreSQL looks
# for a deadlock; short, so that a deadlock (a failure) is reported quickly.
# 9>&-: the throw-away server must not inherit the install lock.
tries=0
while :; do
  rc=0
  pg_virtualenv -t -o deadlock_timeout=100ms -o max_parallel_workers_per_gather=0 bash -c '
    set -euo pipefail
    bindir=$1 out=$2; shift 2
    createdb isolation_regression
    psql -X -q -v ON_ERROR_STOP=1 -d isolation_regression \
      -c "SET client_min_messages = warning" -c "CREATE EXTENSION apivalue" >/dev/null
    "$bindir/pg_isolation_regress" --use-existing --dbname=isolation_regression \
      --inputdir=test/isolation --outputdir="$out" "$@"
  ' isolation "$bindir" "$out" "${specs[@]}" 9>&- >"$out/log" 2>&1 || rc=$?
  # Clusters starting at once on one machine can race for a port: retry.
  if [ "$rc" -ne 0 ] && grep -q 'Port conflict' "$out/log" && [ $((tries += 1)) -lt 5 ]; then
    sleep $((RANDOM % 3 + 1)); continue
  fi
  break
done
grep -E '^(ok|not ok|test |# )' "$out/log" || cat "$out/log"
if [ "$rc" -ne 0 ]; then
  [ -f "$out/regression.diffs" ] && head -n 120 "$out/regression.diffs"
  exit 1
fi
