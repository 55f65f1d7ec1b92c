#!/usr/bin/env bash
# Sanitizer layer: the extension built with AddressSanitizer + UBSan and run
# inside a stock PostgreSQL server that has libasan preloaded (the server
# itself is not instrumented, only apivalue.so is).  Runs the pg_regress suite
# and a short garden (test/garden) against it, then fails on any ASan or UBSan
# report whose stack mentions apivalue.  Afterwards the normal build is
# installed again, so the rest of the suite is unaffected.
#
# How the server gets the sanitizer runtime: pg_ctlcluster starts the
# postmaster with the variables of the cluster's "environment" file (it does
# not pass the caller's environment through), so this layer writes
# LD_PRELOAD, ASAN_OPTIONS and UBSAN_OPTIONS there and restarts the cluster,
# then checks /proc/<postmaster>/maps for libasan.  detect_leaks=0: the
# postmaster is not leak-clean by design; halt_on_error=0 with
# -fsanitize-recover=address: report every error and keep going.
#
#   ASAN_GARDEN_MAX_PER_FUNCTION (25)  garden calls per function (0 = skip garden)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
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

libasan=$(gcc -print-file-name=libasan.so)
libasan=$(readlink -f "$libasan")
[ -f "$libasan" ] || { echo "asan: libasan not found (gcc -print-file-name=libasan.so)"; exit 1; }

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
      EXTRA_CFLAGS='-fsanitize=address,undefined -fsanitize-recover=address -fno-omit-frame-pointer -g' \
      EXTRA_LDFLAGS='-fsanitize=address,undefined' >"$out/build.log" 2>&1; then
  echo "asan: sanitizer build failed"; tail -n 20 "$out/build.log"; exit 1
fi
make -s -C "$build" install >/dev/null
ldd "$(pg_config --pkglibdir)/apivalue.so" | grep -q libasan \
  || { echo "asan: installed apivalue.so is not instrumented"; exit 1; }

export ASAN_LIB=$libasan OUT=$out BUILD=$build ROOT=$root
pg_virtualenv -t -o max_parallel_workers_per_gather=0 bash -c '
  set -euo pipefail
  envfile=$PG_CLUSTER_CONF_ROOT/15/regress/environment
  cat >>"$envfile" <<ENV
LD_PRELOAD = '"'"'$ASAN_LIB'"'"'
ASAN_OPTIONS = '"'"'detect_leaks=0:halt_on_error=0:abort_on_error=0:log_path=$OUT/reports/asan:detect_odr_violation=0:alloc_dealloc_mismatch=0'"'"'
UBSAN_OPTIONS = '"'"'print_stacktrace=1:halt_on_error=0:log_path=$OUT/reports/ubsan'"'"'
ENV
  pg_ctlcluster 15 regress restart
  pid=$(head -n 1 "$(psql -X -Atc "SHOW data_directory")/postmaster.pid")
  if ! grep -q libasan "/proc/$pid/maps"; then
    echo "asan: the server did not load libasan (environment file not applied)"; exit 1
  fi
  echo "asan: server pid $pid runs with $(basename "$ASAN_LIB") preloaded"
  rc=0
  make -s -C "$BUILD" installcheck REGRESS_OPTS="--inputdir=test --outputdir=$OUT/regress" \
    >"$OUT/regress.log" 2>&1 || rc=$?
  grep -E "^(ok|not ok)|\.\.\. (ok|FAILED)|tests (passed|failed)" "$OUT/regress.log" | tail -n 3 || true
  if [ "${ASAN_GARDEN_MAX_PER_FUNCTION:-25}" -gt 0 ]; then
    psql -X -q -c "CREATE EXTENSION IF NOT EXISTS apivalue" >/dev/null
    (cd "$ROOT" && python3 test/garden/garden.py --out "$OUT/garden" \
        --max-per-function "${ASAN_GARDEN_MAX_PER_FUNCTION:-25}" --timeout-ms 10000 --budget-s 240) \
      | tail -n 1 || true
  fi
  cp "$(pg_lsclusters -h | awk "{print \$7}")" "$OUT/server.log"
  echo "$rc" >"$OUT/regress.rc"
' 9>&- 2>&1 | grep -vE '^(Creating new|Dropping cluster)' || true

regress_rc=$(cat "$out/regress.rc" 2>/dev/null || echo 1)
reports=$(ls "$out/reports" | wc -l)
ours=0
for f in "$out"/reports/*; do
  [ -e "$f" ] || continue
  if grep -q apivalue "$f"; then
    ours=$((ours + 1))
    echo "asan: report $(basename "$f") mentions apivalue:"
    grep -E "ERROR: AddressSanitizer|runtime error|#[0-9]+ .*apivalue" "$f" | head -n 12
  fi
done
crashes=$(grep -cE "terminated by signal|TRAP:" "$out/server.log" 2>/dev/null || true)
echo "asan: pg_regress $( [ "$regress_rc" = 0 ] && echo passed || echo FAILED ) under ASan+UBSan; $reports sanitizer report file(s), $ours mentioning apivalue; $crashes server crash(es)"
[ "$ours" -eq 0 ] && [ "$regress_rc" = 0 ] && [ "$crashes" -eq 0 ]
