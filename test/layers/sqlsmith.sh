#!/usr/bin/env bash
# SQLsmith layer: random SQL against a database holding apivalue and event
# tables, sent by an unprivileged role, with fixed seeds and a bounded number
# of queries and time.  SQLsmith reconnects after a crash, so crashes are found
# in the server log ("terminated by signal", "TRAP:"), and errors are counted
# from the log too: every ERROR line carries its SQLSTATE (log_line_prefix %e)
# and its LOCATION (log_error_verbosity=verbose), so an XX000 raised by
# apivalue's C code (LOCATION in one of src/*.c) or inside an apivalue function
# (CONTEXT naming apivalue.) is told apart from one raised by core PostgreSQL.
#
# SQLsmith draws every function from pg_proc, where apivalue's few dozen are
# lost among ~3000 core ones.  The role's search_path puts a schema "shadow"
# before pg_catalog whose views pg_proc and pg_type show every apivalue
# function but only a fixed sample of core ones, and no useless pseudo-types
# (test/garden/sqlsmith_setup.sql), so most generated queries reach apivalue.
# track_functions=all counts the calls of apivalue functions that ran.
#
#   SQLSMITH_QUERIES (20000)  queries in total, split over SQLSMITH_JOBS (2)
#   SQLSMITH_SEED (13)        first seed; job k uses seed + k
#   SQLSMITH_TIMEOUT (360)    seconds before sqlsmith is stopped
# Fails on a crash or an XX000 in apivalue; prints one summary line.
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
root=$PWD
out=$root/test/out/sqlsmith
rm -rf "$out"; mkdir -p "$out"

if ! command -v sqlsmith >/dev/null; then
  apt-cache policy sqlsmith | head -n 3
  scripts/deps.sh sqlsmith
fi

export SQLSMITH_QUERIES=${SQLSMITH_QUERIES:-20000}
export SQLSMITH_SEED=${SQLSMITH_SEED:-13}
export SQLSMITH_TIMEOUT=${SQLSMITH_TIMEOUT:-360}
export SQLSMITH_JOBS=${SQLSMITH_JOBS:-2}

pg_virtualenv -t -o "log_line_prefix=%m [%p] %e " -o log_error_verbosity=verbose \
    -o max_parallel_workers_per_gather=2 -o log_min_messages=warning \
    -o log_autovacuum_min_duration=-1 -o track_functions=all bash -c '
  set -euo pipefail
  root=$1 out=$2
  log=$(pg_lsclusters -h | awk "{print \$7}")
  psql -X -q -c "CREATE DATABASE smith" >/dev/null
  export PGDATABASE=smith
  psql -X -q -c "CREATE EXTENSION apivalue" >/dev/null
  psql -X -q -f "$root/test/garden/setup.sql" >/dev/null
  psql -X -q -c "DROP TABLE garden.f_huge_text; DROP TABLE garden.results, garden.calls; DROP FUNCTION garden.try(int)" >/dev/null
  if [ -f "$root/test/data/sample.sql" ]; then
    (cd "$root" && psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
        -f test/data/sample.sql -c "SELECT sample.generate(users => 100, seed => 42)" >/dev/null) \
      || echo "sqlsmith: sample data not loaded (test/data/sample.sql failed); using the garden fixtures only"
  fi
  psql -X -q -v ON_ERROR_STOP=1 -f "$root/test/garden/sqlsmith_setup.sql" >/dev/null
  n=$(PGPASSWORD=smith psql -X -At -U smith -c "SELECT count(*) FILTER (WHERE pronamespace = '"'"'apivalue'"'"'::regnamespace) || '"'"' apivalue + '"'"' || count(*) FILTER (WHERE pronamespace <> '"'"'apivalue'"'"'::regnamespace) || '"'"' core'"'"' FROM pg_proc" 2>/dev/null || echo "?")
  echo "sqlsmith: functions visible to sqlsmith: $n"
  per=$(( (SQLSMITH_QUERIES + SQLSMITH_JOBS - 1) / SQLSMITH_JOBS ))
  pids=()
  for k in $(seq 0 $((SQLSMITH_JOBS - 1))); do
    seed=$((SQLSMITH_SEED + k))
    timeout -k 10 "$SQLSMITH_TIMEOUT" sqlsmith --exclude-catalog --verbose --seed="$seed" --max-queries="$per" \
      --target="host=localhost port=$PGPORT dbname=smith user=smith password=smith" \
      >"$out/sqlsmith.$k.out" 2>"$out/sqlsmith.$k.err" &
    pids+=($!)
  done
  rcs=()
  for p in "${pids[@]}"; do
    rc=0; wait "$p" || rc=$?; rcs+=($rc)
  done
  echo "${rcs[*]}" > "$out/sqlsmith.rc"
  sleep 1
  psql -X -At -F " " -c "SELECT funcid::regprocedure, calls FROM pg_stat_user_functions
                        WHERE schemaname = '"'"'apivalue'"'"' ORDER BY calls DESC" >"$out/apivalue_calls.txt" || true
  cp "$log" "$out/server.log"
' sqlsmith "$root" "$out" 9>&-

python3 - "$out" "$root" <<'PY'
import glob, os, re, sys
out, root = sys.argv[1], sys.argv[2]
ours = {os.path.basename(p) for p in glob.glob(os.path.join(root, 'src', '*.c'))}
queries = 0
timed_out = 0
rcs = open(os.path.join(out, 'sqlsmith.rc')).read().split()
for k, rc in enumerate(rcs):
    err = open(os.path.join(out, 'sqlsmith.%d.err' % k), errors='replace').read()
    counts = re.findall(r'queries: (\d+)', err)
    # The last report is printed at exit; stopped by timeout, count the
    # progress characters printed after the last report.
    n = int(counts[-1]) if counts else 0
    if rc != '0':
        timed_out += 1
        tail = err[err.rfind('queries:'):] if counts else err
        tail = tail.split('\n', 1)[1] if counts and '\n' in tail else tail
        n += len(re.findall(r'[.etsSc]', ''.join(l for l in tail.splitlines() if re.fullmatch(r'[.etsSc]+', l))))
    queries += n

# Server log: entries start with a timestamp; continuation lines do not.
entries, cur = [], None
for line in open(os.path.join(out, 'server.log'), errors='replace'):
    m = re.match(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+ \[(\d+)\] (\w{5})? ?(\w+):  (.*)', line)
    if m:
        cur = {'pid': m.group(1), 'state': m.group(2), 'level': m.group(3), 'text': m.group(4)}
        entries.append(cur)
    elif cur is not None:
        cur['text'] += '\n' + line.rstrip('\n')
crashes = [e for e in entries if 'terminated by signal' in e['text'] or e['text'].startswith('TRAP')
           or e['level'] == 'PANIC']
crashes += [{'text': l.strip()} for l in open(os.path.join(out, 'server.log'), errors='replace')
            if l.startswith('TRAP:')]
# Group each ERROR with the LOCATION / CONTEXT / STATEMENT lines after it.
errors = []
for i, e in enumerate(entries):
    if e['level'] not in ('ERROR', 'FATAL'):
        continue
    err = dict(e, location='', context='', statement='')
    for f in entries[i + 1:i + 6]:
        if f['pid'] != e['pid']:
            continue
        if f['level'] in ('LOCATION', 'CONTEXT', 'STATEMENT', 'DETAIL', 'HINT'):
            err[f['level'].lower()] = f['text']
        elif f['level'] in ('ERROR', 'FATAL', 'LOG', 'WARNING'):
            break
    errors.append(err)
xx = [e for e in errors if (e['state'] or '').startswith('XX')]
def is_ours(e):
    m = re.search(r'([\w.-]+\.c):\d+', e['location'])
    return (m and m.group(1) in ours) or 'apivalue.' in e['context']
xx_ours = [e for e in xx if is_ours(e)]
xx_core = [e for e in xx if not is_ours(e)]
with open(os.path.join(out, 'xx000.txt'), 'w') as f:
    for label, lst in (('APIVALUE', xx_ours), ('CORE', xx_core)):
        for e in lst:
            f.write('%s %s %s\n  LOCATION: %s\n  CONTEXT: %s\n  STATEMENT: %s\n\n'
                    % (label, e['state'], e['text'], e['location'], e['context'], e['statement'][:4000]))
api_errors = sum(1 for e in errors if 'apivalue.' in e['statement'])
calls = [l.rsplit(' ', 1) for l in open(os.path.join(out, 'apivalue_calls.txt')).read().splitlines() if l.strip()]
ncalls = sum(int(c[1]) for c in calls)
for e in crashes[:10]:
    print('sqlsmith: CRASH', e['text'][:300])
for e in xx_ours[:10]:
    print('sqlsmith: XX000 in apivalue: %s (%s)\n    %s' % (e['text'][:200], e['location'], e['statement'][:300]))
print('sqlsmith: %d queries (%d jobs, %d stopped by time limit), %d errors logged (%d in queries naming apivalue), '
      '%d calls of %d apivalue functions ran (non-aggregate), %d crashes, %d XX000 in apivalue, %d XX000 in core PostgreSQL'
      % (queries, len(rcs), timed_out, len(errors), api_errors, ncalls, len(calls), len(crashes), len(xx_ours), len(xx_core)))
need = int(os.environ.get('SQLSMITH_MIN_QUERIES') or int(os.environ['SQLSMITH_QUERIES']) * 9 // 10)
if queries < need:
    print('sqlsmith: FAIL only %d queries ran, %d required (see %s/sqlsmith.*.err)' % (queries, need, out))
    sys.exit(1)
sys.exit(1 if crashes or xx_ours else 0)
PY
