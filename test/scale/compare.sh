# Shared by test/layers/{partitions,fdw}.sh (source it): run every query of
# test/scale/*.sql against a reference table and another table (standing for
# {{events}}) and compare the answers.
#   scale_compare LABEL PORT REFERENCE_TABLE OTHER_TABLE [psql args...]
# Sets scale_pass / scale_fail (added to, so several calls accumulate).
# Uses av_psql from test/lib/clusters.sh.
scale_pass=${scale_pass:-0}
scale_fail=${scale_fail:-0}

scale_compare() {
  local label=$1 port=$2 ref=$3 other=$4; shift 4
  local q name sql rsql osql rout oout ok
  for q in test/scale/*.sql; do
    [ -e "$q" ] || continue
    name=$(basename "$q" .sql)
    sql=$(grep -v '^[[:space:]]*--' "$q")
    rsql=${sql//\{\{events\}\}/$ref}
    osql=${sql//\{\{events\}\}/$other}
    ok=1
    rout=$(av_psql "$port" -At "$@" -c "$rsql" 2>&1) || { ok=0; echo "  $label $name: reference query failed: ${rout:0:300}"; }
    oout=$(av_psql "$port" -At "$@" -c "$osql" 2>&1) || { ok=0; echo "  $label $name: query failed: ${oout:0:300}"; }
    if [ $ok -eq 1 ] && { [ "$rout" != "$oout" ] || [ -z "$rout" ]; }; then
      ok=0
      echo "  $label $name: answer differs from the reference (${#rout} vs ${#oout} bytes)"
      diff <(echo "$rout") <(echo "$oout") | head -n 6 | cut -c1-200 || true
    fi
    if [ $ok -eq 1 ]; then scale_pass=$((scale_pass + 1)); else scale_fail=$((scale_fail + 1)); fi
  done
}
