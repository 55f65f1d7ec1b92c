#!/usr/bin/env bash
# test/layers/charts_browser.sh — the charts and the value report in a real
# browser (headless Chromium).
#
# 1. A throw-away cluster: sample data (300 users), three quality checks run
#    twice, value_report_html written to report.html; the chart fixtures
#    (test/charts/fixtures.sql) written to one SVG each.
# 2. Every SVG and the report are well-formed XML (xmllint); the report has no
#    http(s) src/href.
# 3. Chromium renders the report with every fetch sent to a dead proxy and a
#    net log: the layer fails on any console message, on any http(s) request
#    in the net log other than Chromium's own background services (a canary page with an external image proves the check
#    can fail), or on a blank / near-uniform screenshot.
# 4. Each chart fixture is rendered alone and compared with its reference
#    test/charts/reference/<name>.png (ImageMagick compare -metric AE
#    -fuzz 5%; fails above 0.5% of the pixels).
# CHARTS_UPDATE_REFERENCE=1 rewrites the references and doc/images/value_report.png.
# Skips (exit 0, "SKIPPED") when chromium cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/test/out/charts_browser
rm -rf "$out"; mkdir -p "$out"

if ! command -v chromium >/dev/null 2>&1 || ! command -v compare >/dev/null 2>&1; then
  scripts/deps.sh chromium imagemagick >/dev/null 2>&1 || true
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v compare >/dev/null 2>&1 || [ ! -x /usr/bin/identify ]; then
  echo "SKIPPED: charts_browser needs Debian chromium and imagemagick, which could not be installed"
  exit 0
fi

# --- 1. data, report and fixtures in a throw-away cluster -----------------
make_outputs() {
  psql -X -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION apivalue;
\i test/data/sample.sql
SELECT sample.generate(users => 300, seed => 42);
SELECT apivalue.add_quality_check('events_nulls', 'sample.events', 'null_rate',
  '{"columns": ["user_id", "endpoint"]}', warn_threshold => 0.1, fail_threshold => 0.9);
SELECT apivalue.add_quality_check('events_sequence_gaps', 'sample.events', 'sequence_gap',
  '{"device_column": "device_id", "seq_column": "seq"}', warn_threshold => 0, fail_threshold => 50);
SELECT apivalue.add_quality_check('events_dead_time', 'sample.events', 'dead_time',
  '{"time_column": "received_at", "max_gap": "2 hours"}', fail_threshold => 0);
SELECT count(*) FROM apivalue.run_quality_checks();
SELECT count(*) FROM apivalue.run_quality_checks();
SQL
  psql -X -At -v ON_ERROR_STOP=1 -f test/layers/charts_report_call.sql > "$CHARTS_OUT/report.html"
  psql -X -At -F $'\t' -v ON_ERROR_STOP=1 -f test/charts/fixtures.sql | while IFS=$'\t' read -r name svg; do
    [ -n "$name" ] && printf '%s\n' "$svg" > "$CHARTS_OUT/$name.svg"
  done
}
export -f make_outputs
export CHARTS_OUT=$out
tries=0
until pg_virtualenv -t bash -c make_outputs 2>"$out/cluster.err"; do
  if grep -q 'Port conflict' "$out/cluster.err" && [ $((tries += 1)) -lt 5 ]; then sleep $((RANDOM % 3 + 1)); continue; fi
  cat "$out/cluster.err"; exit 1
done
charts=(heatmap funnel sankey line status nodata)
for c in "${charts[@]}"; do [ -s "$out/$c.svg" ] || { echo "fixture $c produced no SVG"; exit 1; }; done

# --- 2. well-formed, nothing external ---------------------------------------
for f in report.html "${charts[@]/%/.svg}"; do
  f=$out/$f
  xmllint --noout "$f" || { echo "not well-formed XML: $f"; exit 1; }
done
if grep -Eiq '(src|href)[[:space:]]*=[[:space:]]*"?https?:' "$out/report.html"; then
  echo "report references an external URL"; exit 1
fi
echo "well-formed: report.html and ${#charts[@]} chart fixtures"

# --- 3. the report in Chromium ---------------------------------------------
shoot() {  # $1 = html file, $2 = png, $3 = window size, $4 = net log
  timeout 90 chromium --headless --disable-gpu --no-sandbox --hide-scrollbars \
    --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --no-first-run --disable-extensions --mute-audio \
    --enable-logging=stderr --v=0 --log-net-log="$4" \
    --window-size="$3" --screenshot="$2" "file://$1" 2>"$2.log" >/dev/null || true
  [ -s "$2" ] || { echo "chromium wrote no screenshot $2"; cat "$2.log"; return 1; }
}
# Net log -> http(s) URLs requested, leaving out Chromium's own background
# services (component updater, clock, account checks on Google hosts), which
# run whatever the page is; a page's fetch goes to its own URL's host.
external_requests() {
  grep -oE '"(url|original_url)":"https?://[^"]*"' "$1" | sort -u \
    | grep -vE '"https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)(:[0-9]+)?/' || true
}

printf '<!DOCTYPE html><html><body><p>canary</p><img src="http://192.0.2.1/x.png"></body></html>' > "$out/canary.html"
shoot "$out/canary.html" "$out/canary.png" 400,200 "$out/canary.netlog.json"
if [ -z "$(external_requests "$out/canary.netlog.json")" ]; then
  echo "the net-log check did not see the canary page's external image: the check cannot work here"; exit 1
fi

shoot "$out/report.html" "$out/report.png" 1400,1500 "$out/report.netlog.json"
ext=$(external_requests "$out/report.netlog.json")
if [ -n "$ext" ]; then echo "the report fetched over the network:"; echo "$ext"; exit 1; fi
if grep -E 'CONSOLE|Uncaught|ERR_' "$out/report.png.log" | grep -v 'dbus' ; then
  echo "console errors while rendering the report"; exit 1
fi
sd=$(/usr/bin/identify -format '%[fx:standard_deviation]' "$out/report.png")
echo "report screenshot: $(/usr/bin/identify -format '%wx%h' "$out/report.png"), standard deviation $sd"
awk -v s="$sd" 'BEGIN { exit !(s >= 0.03) }' || { echo "report screenshot is blank or near-uniform (sd $sd)"; exit 1; }

# --- 4. each chart against its reference -------------------------------------
fail=0
for c in "${charts[@]}"; do
  svg=$out/$c.svg
  w=$(sed -n 's/^<svg[^>]* width="\([0-9.]*\)".*/\1/p' "$svg" | head -1); w=${w%.*}
  h=$(sed -n 's/^<svg[^>]* height="\([0-9.]*\)".*/\1/p' "$svg" | head -1); h=${h%.*}
  { printf '<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{margin:0;padding:0;background:#fff}svg{display:block}</style></head><body>'
    cat "$svg"; printf '</body></html>'; } > "$out/$c.html"
  shoot "$out/$c.html" "$out/$c.png" "$w,$h" "$out/$c.netlog.json"
  [ -z "$(external_requests "$out/$c.netlog.json")" ] || { echo "$c fetched over the network"; fail=1; }
  ref=test/charts/reference/$c.png
  if [ "${CHARTS_UPDATE_REFERENCE:-0}" = 1 ]; then
    cp "$out/$c.png" "$ref"; echo "reference $ref written"; continue
  fi
  if [ ! -f "$ref" ]; then echo "no reference $ref (CHARTS_UPDATE_REFERENCE=1 writes it)"; fail=1; continue; fi
  ae=$(compare -metric AE -fuzz 5% "$ref" "$out/$c.png" "$out/$c.diff.png" 2>&1 >/dev/null || true)
  ae=${ae%% *}
  total=$(( w * h ))
  if ! [[ $ae =~ ^[0-9.e+]+$ ]]; then echo "$c: compare failed: $ae"; fail=1; continue; fi
  if awk -v a="$ae" -v t="$total" 'BEGIN { exit !(a > 0.005 * t) }'; then
    echo "$c: $ae of $total pixels differ from $ref (diff in $out/$c.diff.png)"; fail=1
  else
    echo "$c: matches its reference ($ae of $total pixels differ)"
  fi
done
if [ "${CHARTS_UPDATE_REFERENCE:-0}" = 1 ]; then
  cp "$out/report.png" doc/images/value_report.png; echo "doc/images/value_report.png written"
fi
[ $fail -eq 0 ] || exit 1
echo "charts_browser layer passed"
