#!/usr/bin/env bash
# Sanitizer layer (make target / CI): the regression suite run against an
# instrumented apivalue.so, failing on any report that points into apivalue.
#
# Memory errors: valgrind memcheck on the whole server.  AddressSanitizer was
# tried first and is impractical here: Debian's postgres binary deadlocks at
# start-up when libasan is preloaded (set_pglocale_pgservice ->
# bindtextdomain blocks on glibc's _nl_state_lock before main() does
# anything else; "postgres -V" alone hangs), and an ASan-built apivalue.so
# cannot be loaded without the runtime preloaded.
# Undefined behaviour: apivalue.so is built with -fsanitize=undefined (UBSan's
# runtime loads fine with dlopen) and reports to files.
#
# The server is started by hand under valgrind with the cluster's own data
# directory and configuration (pg_virtualenv's cluster, stopped first), then
# pg_regress runs against it, then a short garden.  Afterwards the normal
# build is installed again.  Reports: test/out/asan/reports/.
#
#   SAN_GARDEN_MAX_PER_FUNCTION (15)  garden calls per function under valgrind (0 = none)
#   SAN_SKIP (regex)  pg_regress tests left out under valgrind: the large
#                     randomized differential tests, which run the same C code
#                     paths as the edge-case tests of each family at 50x the
#                     cost (valgrind slows the server about 50-fold)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
SAN_SKIP=${SAN_SKIP:-'_random$|_reference$|_parallel$|^sample_data$|^ttfv_sample$|^charts_report$'}
SAN_TESTS=$(ls test/sql/*.sql | xargs -n1 basename | sed 's/\.sql$//' | grep -vE "$SAN_SKIP" | tr '\n' ' ')
export SAN_TESTS
out=$root/test/out/asan
rm -rf "$out"; mkdir -p "$out/reports"
chmod 777 "$out/reports"

# The install directory is shared: hold the lock for build + install + test
# (scripts/test.sh holds it already and says so with APIVALUE_LOCK_HELD=1).
if [ -z "${APIVALUE_LOCK_HELD:-}" ]; then
  exec 9>/tmp/apivalue-install.lock
  flock 9
  export APIVALUE_LOCK_HELD=1
fi

# Build a copy of the work tree, so its object files stay normal ones.
build=$(mktemp -d /tmp/apivalue-asan.XXXXXX)
chmod 755 "$build"
restore() {
  # Put the normal build back whatever happened.
  make -s -C "$root" -j"$(nproc)" >/dev/null 2>&1 && make -s -C "$root" install >/dev/null 2>&1 \
    || echo "asan: WARNING: reinstalling the normal build failed"
  rm -rf "$build"
}
trap restore EXIT
(cd "$root" && git ls-files -co --exclude-standard -z | grep -zv '^test/out/' | xargs -0 tar cf -) \
  | tar xf - -C "$build"
make -s -C "$build" clean >/dev/null 2>&1 || true
if ! make -s -C "$build" -j"$(nproc)" \
      EXTRA_CFLAGS='-fsanitize=undefined -fno-omit-frame-pointer -g' \
      EXTRA_LDFLAGS='-fsanitize=undefined' >"$out/build.log" 2>&1; then
  echo "asan: sanitizer build failed"; tail -n 20 "$out/build.log"; exit 1
fi
make -s -C "$build" install >/dev/null
ldd "$(pg_config --pkglibdir)/apivalue.so" | grep -q libubsan \
  || { echo "asan: installed apivalue.so is not instrumented"; exit 1; }
command -v valgrind >/dev/null || scripts/deps.sh valgrind

export OUT=$out BUILD=$build ROOT=$root
pg_virtualenv -t -o max_parallel_workers_per_gather=0 bash -c '
  set -euo pipefail
  datadir=$(psql -X -Atc "SHOW data_directory")
  conf=$(psql -X -Atc "SHOW config_file")
  pg_ctlcluster 15 regress stop
  bindir=$(pg_config --bindir)
  runuser -u postgres -- env UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0:log_path=$OUT/reports/ubsan" \
    valgrind --quiet --trace-children=yes --track-origins=no --num-callers=30 \
      --error-limit=no --read-var-info=no --log-file="$OUT/reports/valgrind.%p" \
      "$bindir/postgres" -D "$datadir" -c config_file="$conf" >"$OUT/postgres.out" 2>&1 &
  for i in $(seq 1 120); do
    pg_isready -q && psql -X -Atc "SELECT 1" >/dev/null 2>&1 && break
    sleep 1
  done
  psql -X -Atc "SELECT 1" >/dev/null || { echo "asan: server under valgrind did not start"; tail "$OUT/postgres.out"; exit 1; }
  echo "asan: server running under valgrind memcheck, apivalue.so built with UBSan"
  rc=0
  make -s -C "$BUILD" installcheck REGRESS="$SAN_TESTS" REGRESS_OPTS="--inputdir=test --outputdir=$OUT/regress" \
    >"$OUT/regress.log" 2>&1 || rc=$?
  grep -E "tests (passed|failed)|FAILED" "$OUT/regress.log" | tail -n 3 || true
  if [ "${SAN_GARDEN_MAX_PER_FUNCTION:-15}" -gt 0 ]; then
    psql -X -q -c "CREATE EXTENSION IF NOT EXISTS apivalue" >/dev/null
    (cd "$ROOT" && python3 test/garden/garden.py --out "$OUT/garden" --internal-max 10 \
        --max-per-function "${SAN_GARDEN_MAX_PER_FUNCTION:-15}" --timeout-ms 60000 --budget-s 150) \
      | tail -n 1 || true
  fi
  runuser -u postgres -- "$bindir/pg_ctl" -D "$datadir" -m fast -w -t 120 stop >/dev/null || true
  cp "$(pg_lsclusters -h | awk "{print \$7}")" "$OUT/server.log" 2>/dev/null || cp "$OUT/postgres.out" "$OUT/server.log"
  echo "$rc" >"$OUT/regress.rc"
' 9>&- 2>&1 | grep -vE '^(Creating new|Dropping cluster)' || true

regress_rc=$(cat "$out/regress.rc" 2>/dev/null || echo 1)
# valgrind writes one (usually empty) file per process.
find "$out/reports" -type f -empty -delete
reports=$(ls "$out/reports" | wc -l)
ours=0
for f in "$out"/reports/*; do
  [ -e "$f" ] || continue
  if grep -q "apivalue" "$f"; then
    ours=$((ours + 1))
    echo "asan: report $(basename "$f") mentions apivalue:"
    grep -E "runtime error|^==[0-9]+== [A-Z][a-z]|apivalue" "$f" | head -n 12
  fi
done
crashes=$(grep -cE "terminated by signal|TRAP:" "$out/server.log" 2>/dev/null || true)
echo "asan: pg_regress $( [ "$regress_rc" = 0 ] && echo passed || echo FAILED ) under valgrind+UBSan; $reports report file(s) with findings, $ours mentioning apivalue; $crashes server crash(es)"
[ "$ours" -eq 0 ] && [ "$regress_rc" = 0 ] && [ "$crashes" -eq 0 ]
