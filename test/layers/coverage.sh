#!/usr/bin/env bash
# Coverage layer (make target / CI): builds a copy of the work tree with
# --coverage, installs it, runs the pg_regress suite (serial, then with parallel
# plans forced) and a short garden in a
# throw-away cluster, and reports line coverage of src/*.c with gcov (lcov
# summary too when lcov is installed).  Reports only: it fails when the build
# or the suite fails, or when COVERAGE_MIN (default 0; the target is 85) is
# not reached.  The normal build is installed again afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/test/out/coverage
rm -rf "$out"; mkdir -p "$out"

if [ -z "${APIVALUE_LOCK_HELD:-}" ]; then
  exec 9>/tmp/apivalue-install.lock
  flock 9
  export APIVALUE_LOCK_HELD=1
fi

build=$(mktemp -d /tmp/apivalue-cov.XXXXXX)
restore() {
  make -s -C "$root" -j"$(nproc)" >/dev/null 2>&1 && make -s -C "$root" install >/dev/null 2>&1 \
    || echo "coverage: WARNING: reinstalling the normal build failed"
  rm -rf "$build"
}
trap restore EXIT
(cd "$root" && git ls-files -co --exclude-standard -z | grep -zv '^test/out/' | xargs -0 tar cf -) \
  | tar xf - -C "$build"
# The server (user postgres) writes the .gcda files next to the objects.
chmod -R a+rwX "$build"
make -s -C "$build" clean >/dev/null 2>&1 || true
if ! make -s -C "$build" -j"$(nproc)" EXTRA_CFLAGS='--coverage -O0 -g' EXTRA_LDFLAGS='--coverage' \
      >"$out/build.log" 2>&1; then
  echo "coverage: build failed"; tail -n 20 "$out/build.log"; exit 1
fi
make -s -C "$build" install >/dev/null
chmod -R a+rwX "$build"

export OUT=$out BUILD=$build ROOT=$root
pg_virtualenv -t -o max_parallel_workers_per_gather=0 bash -c '
  rc=0
  make -s -C "$BUILD" installcheck REGRESS_OPTS="--inputdir=test --outputdir=$OUT/regress" \
    >"$OUT/regress.log" 2>&1 || rc=$?
  # Again with parallel plans forced, as scripts/test.sh runs the suite: the
  # partial-aggregate paths (combine, serialize, deserialize) count too.
  PGOPTIONS="-c max_parallel_workers_per_gather=2 -c parallel_setup_cost=0 -c parallel_tuple_cost=0 -c min_parallel_table_scan_size=0 -c min_parallel_index_scan_size=0 -c parallel_leader_participation=off" \
    make -s -C "$BUILD" installcheck REGRESS_OPTS="--inputdir=test --outputdir=$OUT/regress-parallel" \
    >"$OUT/regress-parallel.log" 2>&1 || rc=$?
  psql -X -q -c "CREATE EXTENSION IF NOT EXISTS apivalue" >/dev/null
  (cd "$ROOT" && python3 test/garden/garden.py --out "$OUT/garden" --max-per-function 40 --budget-s 120) \
    >"$OUT/garden.log" 2>&1 || true
  echo "$rc" >"$OUT/regress.rc"
' 9>&- >/dev/null 2>&1 || true

regress_rc=$(cat "$out/regress.rc" 2>/dev/null || echo 1)
# gcov per source file: "Lines executed:NN.NN% of MM".
total=0; hit=0
: >"$out/files.txt"
for c in "$build"/src/*.c; do
  name=$(basename "$c" .c)
  line=$(cd "$build" && gcov -n -o src "src/$name.c" 2>/dev/null \
           | awk -v f="src/$name.c" '$0 ~ "File .*"f"\x27" {getline; print; exit}')
  pct=$(printf '%s' "$line" | sed -n 's/Lines executed:\([0-9.]*\)% of \([0-9]*\)/\1 \2/p')
  [ -n "$pct" ] || pct="0 $(grep -c . "$c")"
  set -- $pct
  n=$2; h=$(awk -v p="$1" -v n="$2" 'BEGIN { printf "%d", p * n / 100 + 0.5 }')
  printf '%-28s %6s%% of %5s lines\n' "src/$name.c" "$1" "$n" >>"$out/files.txt"
  total=$((total + n)); hit=$((hit + h))
done
cat "$out/files.txt"
if command -v lcov >/dev/null; then
  lcov -q --capture --directory "$build/src" --output-file "$out/lcov.info" >/dev/null 2>&1 \
    && lcov --summary "$out/lcov.info" 2>&1 | grep -E "lines" | sed 's/^ */coverage: lcov /' || true
fi
pct=$(awk -v h=$hit -v t=$total 'BEGIN { if (t == 0) print "0.0"; else printf "%.1f", 100 * h / t }')
echo "coverage: src/ line coverage $pct% ($hit of $total lines; target 85%); pg_regress $( [ "$regress_rc" = 0 ] && echo passed || echo FAILED )"
[ "$regress_rc" = 0 ] || exit 1
awk -v p="$pct" -v m="${COVERAGE_MIN:-0}" 'BEGIN { exit !(p + 0 >= m + 0) }'
