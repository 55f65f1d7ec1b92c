#!/usr/bin/env bash
# Upgrade layer: every released version of apivalue (every frozen install
# script sql/apivalue--X.sql other than the current default_version of
# apivalue.control) must
#   0. stay frozen (its install script, and the upgrade scripts that end at
#      it, listed with their sha256 in sql/released.sha256) and have a chain
#      of upgrade scripts sql/apivalue--A--B.sql to the current version;
#   1. install (CREATE EXTENSION apivalue VERSION 'X') against the current
#      shared library: every C symbol its script names still exists;
#   2. keep user objects working through ALTER EXTENSION apivalue UPDATE:
#      views, materialized views, a table with an apivalue type column, a
#      SQL-standard function body and user rows in the config tables
#      (test/upgrade/user_objects.sql) give identical answers before, after,
#      and after refreshing the materialized views
#      (test/upgrade/user_answers.sql);
#   3. end up with exactly the objects of a fresh install of the current
#      version: every extension member and its full definition, comments,
#      ACLs, initial privileges, config-table registration and the
#      extension's own table rows (test/upgrade/describe.sql), diffed.
# Own throw-away cluster.  Details in test/out/upgrade/.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=test/out/upgrade
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" apivalue.control)

# Released versions: frozen install scripts other than the current version.
released_versions() {
  local f v
  for f in sql/apivalue--*.sql; do
    v=${f#sql/apivalue--}; v=${v%.sql}
    case $v in *--*) continue ;; esac
    [ "$v" = "$current" ] && continue
    echo "$v"
  done | sort -V
}

# The shortest chain of upgrade scripts from $1 to $2 ("A -> B -> C"), or
# nothing when there is none.
upgrade_chain() {
  local from=$1 to=$2 f b
  declare -A prev=([$from]=-)
  local queue=("$from") head=0 v
  while [ $head -lt ${#queue[@]} ]; do
    v=${queue[$head]}; head=$((head + 1))
    if [ "$v" = "$to" ]; then
      local chain=$v
      while [ "${prev[$v]}" != - ]; do v=${prev[$v]}; chain="$v -> $chain"; done
      echo "$chain"
      return
    fi
    for f in sql/apivalue--"$v"--*.sql; do
      [ -e "$f" ] || continue
      b=${f#sql/apivalue--"$v"--}; b=${b%.sql}
      case $b in *--*) continue ;; esac
      [ -n "${prev[$b]+x}" ] && continue
      prev[$b]=$v; queue+=("$b")
    done
  done
}

if [ "${APIVALUE_LAYER_INNER:-}" != 1 ]; then
  rm -rf "$out"; mkdir -p "$out"
  fail=0
  mapfile -t versions < <(released_versions)
  echo "current version $current; released versions: ${versions[*]:-(none)}"

  # 0a. Released scripts are frozen: every released install script, and
  # every upgrade script that ends at a released version (databases ran it
  # already), is listed in sql/released.sha256 and matches its checksum.
  if ! sha256sum --quiet --strict -c sql/released.sha256; then
    echo "FAIL: a released script changed or is missing (sql/released.sha256);"
    echo "      released scripts are never edited: put changes in the current upgrade script"
    fail=1
  fi
  listed() { awk -v f="$1" '$2 == f { found = 1 } END { exit !found }' sql/released.sha256; }
  for v in "${versions[@]}"; do
    for f in "sql/apivalue--$v.sql" sql/apivalue--*--"$v".sql; do
      [ -e "$f" ] || continue
      if ! listed "$f"; then
        echo "FAIL: $f belongs to released version $v but has no checksum in sql/released.sha256"
        fail=1
      fi
    done
  done
  if listed "sql/apivalue--$current.sql"; then
    echo "FAIL: sql/released.sha256 lists the current version $current: bump default_version in apivalue.control"
    fail=1
  fi
  if [ ${#versions[@]} -eq 0 ]; then
    echo "FAIL: no released version found (sql/apivalue--X.sql besides $current)"
    fail=1
  fi

  # 0b. Every released version has a chain of upgrade scripts to the current one.
  for v in "${versions[@]}"; do
    chain=$(upgrade_chain "$v" "$current")
    if [ -z "$chain" ]; then
      echo "FAIL: no upgrade path from $v to $current (sql/apivalue--A--B.sql)"
      fail=1
    else
      echo "upgrade path $chain"
    fi
  done
  [ $fail -eq 0 ] || exit 1

  # Standalone runs test this work tree's build: take the install lock, build
  # and install.  Under scripts/test.sh (APIVALUE_LOCK_HELD=1) that is done.
  if [ -z "${APIVALUE_LOCK_HELD:-}" ]; then
    exec 9>/tmp/apivalue-install.lock
    flock 9
    make -s -j"$(nproc)" >/dev/null
    make -s install >/dev/null
    export APIVALUE_LOCK_HELD=1
  fi
  start=$SECONDS
  tries=0
  while :; do
    # 9>&-: the throw-away server must not inherit the install lock.
    set +e
    pg_virtualenv -t env APIVALUE_LAYER_INNER=1 bash "$0" "${versions[@]}" 9>&- 2>&1 |
      tee "$out/run.log"
    rc=${PIPESTATUS[0]}
    set -e
    # Clusters starting at once on one machine can race for a port: retry.
    if [ "$rc" -ne 0 ] && grep -q 'Port conflict' "$out/run.log" && [ $((tries += 1)) -lt 5 ]; then
      sleep $((RANDOM % 3 + 1)); continue
    fi
    break
  done
  echo "upgrade layer: $((SECONDS - start)) s in the cluster"
  exit "$rc"
fi

# ---------------------------------------------------------------------------
# Inside the cluster.  Arguments: the released versions (standalone runs with
# APIVALUE_LAYER_INNER=1 against a running server derive them).
# ---------------------------------------------------------------------------
mkdir -p "$out"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || mapfile -t versions < <(released_versions)
export PGOPTIONS="${PGOPTIONS:-} -c check_function_bodies=on -c client_min_messages=warning"
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
qa() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
fail=0

# The installed files must be this tree's, or the test tests something else.
extdir=$(pg_config --sharedir)/extension
for f in apivalue.control sql/apivalue--*.sql; do
  if ! cmp -s "$f" "$extdir/$(basename "$f")"; then
    echo "FAIL: $extdir/$(basename "$f") differs from this tree's $f (run make install)"
    fail=1
  fi
done
for f in "$extdir"/apivalue--*.sql; do
  if [ ! -e "sql/$(basename "$f")" ]; then
    echo "FAIL: $f is installed but not in this tree: a stale script changes update paths (remove it)"
    fail=1
  fi
done
[ $fail -eq 0 ] || exit 1

# The reference: a fresh install of the current version.
q -c "CREATE DATABASE upg_fresh"
q -d upg_fresh -c "CREATE EXTENSION apivalue"
got=$(qa -d upg_fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'apivalue'")
if [ "$got" != "$current" ]; then
  echo "FAIL: CREATE EXTENSION installed $got, not the default version $current"
  exit 1
fi
q -d upg_fresh -f test/upgrade/describe.sql > "$out/fresh.txt"
echo "fresh $current: $(grep -P '^~counts\tmembers\t' "$out/fresh.txt" | cut -f3) members," \
     "$(grep -cv '^~' "$out/fresh.txt") definition lines"

for v in "${versions[@]}"; do
  db=upg_$(echo "$v" | tr -c 'A-Za-z0-9\n' _)
  log=$out/$v.log
  echo "== $v"
  q -c "CREATE DATABASE $db"

  # 1. The old install script against the current shared library.
  if ! q -d "$db" -c "CREATE EXTENSION apivalue VERSION '$v'" >"$log" 2>&1; then
    echo "FAIL: CREATE EXTENSION apivalue VERSION '$v' fails against the current build:"
    sed 's/^/  /' "$log"
    fail=1; continue
  fi
  ncfun=$(qa -d "$db" -c "
    SELECT count(*) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'c'
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'apivalue'")
  echo "ok: $v installs against the current build ($ncfun C functions resolved)"
  path=$(qa -d "$db" -c "SELECT path FROM pg_extension_update_paths('apivalue')
                          WHERE source = '$v' AND target = '$current'")
  if [ -z "$path" ]; then
    echo "FAIL: PostgreSQL sees no update path from $v to $current"
    fail=1; continue
  fi
  echo "ok: PostgreSQL's update path $path"

  # 2. User objects, their answers before and after the update.
  q -d "$db" -f test/upgrade/user_objects.sql >>"$log" 2>&1 || {
    echo "FAIL: the user objects cannot be created under $v:"; tail -n 20 "$log"; fail=1; continue; }
  q -d "$db" -f test/upgrade/user_answers.sql >"$out/$v.answers.before" 2>&1 || {
    echo "FAIL: user answers under $v:"; tail -n 20 "$out/$v.answers.before"; fail=1; continue; }
  if ! q -d "$db" -c "ALTER EXTENSION apivalue UPDATE" >>"$log" 2>&1; then
    echo "FAIL: ALTER EXTENSION apivalue UPDATE from $v fails:"
    tail -n 20 "$log" | sed 's/^/  /'
    fail=1; continue
  fi
  got=$(qa -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'apivalue'")
  if [ "$got" != "$current" ]; then
    echo "FAIL: ALTER EXTENSION apivalue UPDATE from $v ended at $got, not $current"
    fail=1
  fi
  q -d "$db" -f test/upgrade/user_answers.sql >"$out/$v.answers.after_update" 2>&1 || true
  q -d "$db" -c "REFRESH MATERIALIZED VIEW public.upg_funnel_counts_mv" \
             -c "REFRESH MATERIALIZED VIEW public.upg_cohort_mv" >>"$log" 2>&1 || true
  q -d "$db" -f test/upgrade/user_answers.sql >"$out/$v.answers.after_refresh" 2>&1 || true
  nviews=$(grep -cE '^upg_[a-z_]+\|[vm]\|' "$out/$v.answers.before" || true)
  nlines=$(wc -l < "$out/$v.answers.before")
  for stage in after_update after_refresh; do
    if diff -u "$out/$v.answers.before" "$out/$v.answers.$stage" >"$out/$v.answers.$stage.diff"; then
      echo "ok: user objects answer the same ${stage//_/ } as before it ($nviews views, $nlines lines)"
    else
      echo "FAIL: user objects answer differently ${stage//_/ } from $v than before it:"
      head -n 60 "$out/$v.answers.$stage.diff" | sed 's/^/  /'
      fail=1
    fi
  done
  # the quality check registered under the old version runs the same now
  same=$(qa -d "$db" -c "
    WITH first AS (SELECT status, observed FROM apivalue.quality_results
                    WHERE check_name = 'upg_dead' ORDER BY run_id LIMIT 1),
         again AS (SELECT status, observed FROM apivalue.run_quality_checks('upg_dead'))
    SELECT (SELECT row(status, observed) FROM first) IS NOT DISTINCT FROM
           (SELECT row(status, observed) FROM again)" 2>&1 || true)
  if [ "$same" = t ]; then
    echo "ok: the quality check registered under $v runs after the update with the same result"
  else
    echo "FAIL: the quality check registered under $v gives another result after the update: $same"
    fail=1
  fi

  # 3. The updated extension against the fresh install.
  q -d "$db" -f test/upgrade/describe.sql > "$out/$v.txt"
  members=$(grep -P '^~counts\tmembers\t' "$out/$v.txt" | cut -f3)
  byclass=$(grep -P '^~counts\tmembers pg_' "$out/$v.txt" | sed 's/^~counts\tmembers //' | tr '\t' ' ' |
            paste -sd, | sed 's/,/, /g')
  aggs=$(grep -P '^~counts\taggregates\t' "$out/$v.txt" | cut -f3)
  subs=$(grep -P '^~counts\tsub-objects' "$out/$v.txt" | cut -f3)
  lines=$(grep -cv '^~' "$out/$v.txt")
  if diff -u --label "fresh $current" --label "$v updated to $current" \
       "$out/fresh.txt" "$out/$v.txt" >"$out/$v.diff"; then
    echo "ok: $v updated = fresh $current: $members members compared ($byclass; $aggs aggregates)," \
         "$subs sub-objects, $lines definition lines"
  else
    nobj=$(grep -E '^[-+][^-+]' "$out/$v.diff" | cut -f1 | cut -c2- | sort -u | wc -l)
    echo "FAIL: $v updated to $current differs from a fresh $current install in $nobj object(s)" \
         "($members members compared; full diff in $out/$v.diff):"
    grep -E '^[-+][^-+]' "$out/$v.diff" | cut -f1 | cut -c2- | sort -u | head -n 40 | sed 's/^/  differs: /'
    head -n 150 "$out/$v.diff" | cut -c1-240 | sed 's/^/  /'
    fail=1
  fi
done
exit $fail
