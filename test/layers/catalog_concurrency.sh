#!/usr/bin/env bash
# Concurrent apivalue.define_metric calls on one name, from separate sessions,
# must each get their own version (no duplicates, no gaps), for a brand-new
# name (racing for version 1) and for an existing one.  Own throw-away cluster.
set -euo pipefail
if [ -z "${PGPORT:-}" ] || [ "${APIVALUE_LAYER_INNER:-}" != 1 ]; then
  exec env APIVALUE_LAYER_INNER=1 pg_virtualenv -t bash "$0"
fi
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION apivalue;
CREATE TABLE layer_t (a int);
CREATE VIEW layer_v AS SELECT a FROM layer_t;
SQL
n=8
for round in fresh existing; do
  pids=()
  for i in $(seq 1 $n); do
    psql -qX -v ON_ERROR_STOP=1 -Atc \
      "SELECT apivalue.define_metric('layer_metric', 'layer_v', 'description $round $i', 'o', 'u')" \
      >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
done
read -r rows versions maxv current < <(psql -qX -At -F' ' -c "
  SELECT count(*), count(DISTINCT version), max(version),
         (SELECT version FROM apivalue.metrics WHERE name = 'layer_metric')
    FROM apivalue.metric_history WHERE name = 'layer_metric'")
echo "history rows=$rows distinct versions=$versions max=$maxv current=$current"
[ "$rows" -eq $((2 * n)) ] && [ "$versions" -eq $((2 * n)) ] && \
  [ "$maxv" -eq $((2 * n)) ] && [ "$current" -eq $((2 * n)) ]
