#!/usr/bin/env bash
# test/layers/charts_browser.sh — the charts and the value report in a real
# browser (headless Chromium).
#
# 1. A throw-away cluster: sample data (300 users), three quality checks run
#    twice, value_report_html written to report.html; the chart fixtures
#    (test/charts/fixtures.sql) written to one SVG each.
# 2. Every SVG and the report are well-formed XML (xmllint); the report has no
#    http(s) src/href.
# 3. Chromium renders each page (the report, each chart alone) with every
#    fetch sent to a dead proxy and a net log, after the probe
#    test/charts/probe.html is put into a copy of the page's <head> (it turns
#    a resource that fails to load, which Chromium does not log, into a
#    console error).  A page fails on any console message (console.error,
#    uncaught exception, failed resource), on any http(s) request in the net
#    log other than Chromium's own background services, and, for the report,
#    on a blank / near-uniform screenshot.
# 4. Each chart is compared with its reference test/charts/reference/<name>.png
#    (ImageMagick compare -metric AE -fuzz 5%; fails above 0.5% of the pixels).
#
# Negative controls: every check must be seen to fail, else the layer fails.
#  - test/charts/canary/canary.html, rendered like the report, must be flagged
#    by the console check for each of its faults (console.error, an uncaught
#    exception, a not-well-formed SVG image, a missing image), by the net-log
#    check (an external image), by the URL grep and by the blank check;
#    xmllint must reject its broken.svg.
#  - Each chart's render moved by 2 px, and the funnel drawn with its step
#    labels' text-anchor lost (labels run into the bars: a broken layout),
#    must differ from the reference.
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
  psql -X -q -At -F $'\t' -v ON_ERROR_STOP=1 -f test/charts/fixtures.sql | while IFS=$'\t' read -r name svg; do
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

# --- the checks, each a function applied alike to real pages and the canary --
# external_urls FILE: src/href attributes pointing at http(s) URLs.
external_urls() {
  grep -Eio '(src|href)[[:space:]]*=[[:space:]]*"?https?:[^" >]*' "$1" || true
}
# with_probe PAGE COPY: COPY is PAGE with test/charts/probe.html right after
# its <head> tag (the page itself stays as written, for xmllint and users).
with_probe() {
  PROBE=test/charts/probe.html perl -0777 -pe '
    BEGIN { local $/; open(my $f, "<", $ENV{PROBE}) or die "probe: $!"; $p = <$f>; close $f }
    s/(<head\b[^>]*>)/$1$p/i or die "with_probe: no <head> in $ARGV\n"' "$1" > "$2"
  grep -q 'charts_browser probe' "$2" || { echo "with_probe: the probe is not in $2"; return 1; }
}
# shoot PAGE PNG SIZE NETLOG: Chromium's screenshot of PAGE (with the probe);
# its log in PNG.log.
shoot() {
  local page=${1%.html}.probe.html
  with_probe "$1" "$page"
  timeout 90 chromium --headless --disable-gpu --no-sandbox --hide-scrollbars \
    --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --no-first-run --disable-extensions --mute-audio \
    --enable-logging=stderr --v=0 --log-net-log="$4" \
    --window-size="$3" --screenshot="$2" "file://$page" 2>"$2.log" >/dev/null || true
  [ -s "$2" ] || { echo "chromium wrote no screenshot $2"; cat "$2.log"; return 1; }
}
# console_messages LOG: the page's console messages (console.*, uncaught
# exceptions, the probe's failed resources) and network errors in a Chromium
# log; Chromium's own D-Bus complaints (no bus in a container) left out.
console_messages() {
  grep -E 'CONSOLE|Uncaught|ERR_' "$1" | grep -v ':dbus/' || true
}
# external_requests NETLOG: http(s) URLs requested, leaving out Chromium's
# own background services (component updater, clock, account checks on
# Google hosts), which run whatever the page is; a page's fetch goes to its
# own URL's host.
external_requests() {
  grep -oE '"(url|original_url)":"https?://[^"]*"' "$1" | sort -u \
    | grep -vE '"https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)(:[0-9]+)?/' || true
}
# near_uniform PNG: true when the screenshot is blank or nearly (standard
# deviation of the pixels below 0.03); prints the deviation.
near_uniform() {
  local sd
  sd=$(/usr/bin/identify -format '%[fx:standard_deviation]' "$1")
  echo "$sd"
  awk -v s="$sd" 'BEGIN { exit !(s < 0.03) }'
}
# differs REF PNG DIFF: true when more than 0.5% of the pixels differ by more
# than 5% (ImageMagick compare -metric AE -fuzz 5%); prints the count.  A
# failed comparison (other size, unreadable image) is an error (exit 2).
differs() {
  local ae total
  ae=$(compare -metric AE -fuzz 5% "$1" "$2" "$3" 2>&1 >/dev/null || true)
  ae=${ae%% *}
  total=$(/usr/bin/identify -format '%[fx:w*h]' "$1")
  if ! [[ $ae =~ ^[0-9.e+]+$ ]]; then echo "compare failed: $ae"; return 2; fi
  echo "$ae of $total pixels differ"
  awk -v a="$ae" -v t="$total" 'BEGIN { exit !(a > 0.005 * t) }'
}

# --- 2. well-formed, nothing external ---------------------------------------
for f in report.html "${charts[@]/%/.svg}"; do
  f=$out/$f
  xmllint --noout "$f" || { echo "not well-formed XML: $f"; exit 1; }
done
if [ -n "$(external_urls "$out/report.html")" ]; then
  echo "report references an external URL:"; external_urls "$out/report.html"; exit 1
fi
echo "well-formed: report.html and ${#charts[@]} chart fixtures"

# --- 3. the canary, then the report, in Chromium -------------------------------
# The canary first: it must trip every check, or a clean result below proves
# nothing.
mkdir -p "$out/canary"
cp test/charts/canary/canary.html test/charts/canary/broken.svg "$out/canary/"
if xmllint --noout "$out/canary/broken.svg" 2>/dev/null; then
  echo "canary: xmllint accepted the canary's broken.svg: the well-formedness check cannot fail"; exit 1
fi
[ -n "$(external_urls "$out/canary/canary.html")" ] \
  || { echo "canary: the URL check did not see the canary's external image"; exit 1; }
shoot "$out/canary/canary.html" "$out/canary.png" 400,200 "$out/canary.netlog.json"
msgs=$(console_messages "$out/canary.png.log")
for want in 'canary: console.error' 'Uncaught Error: canary: uncaught exception' \
            'resource failed to load: <img> file://'"$out"'/canary/broken.svg' \
            'resource failed to load: <img> file://'"$out"'/canary/missing-canary.png'; do
  if ! grep -qF -- "$want" <<< "$msgs"; then
    echo "canary: the console check did not see \"$want\"; it saw:"; printf '%s\n' "$msgs"
    echo "(Chromium log: $out/canary.png.log)"; exit 1
  fi
done
[ -n "$(external_requests "$out/canary.netlog.json")" ] \
  || { echo "canary: the net-log check did not see the canary's external image: the check cannot work here"; exit 1; }
sd=$(near_uniform "$out/canary.png") \
  || { echo "canary: the blank-screenshot check passed the canary's empty page (sd $sd)"; exit 1; }
echo "canary: flagged by every check ($(wc -l <<< "$msgs") console messages, an external request, blank at sd $sd, broken SVG rejected)"

shoot "$out/report.html" "$out/report.png" 1400,1500 "$out/report.netlog.json"
ext=$(external_requests "$out/report.netlog.json")
if [ -n "$ext" ]; then echo "the report fetched over the network:"; echo "$ext"; exit 1; fi
msgs=$(console_messages "$out/report.png.log")
if [ -n "$msgs" ]; then echo "console errors while rendering the report:"; printf '%s\n' "$msgs"; exit 1; fi
if sd=$(near_uniform "$out/report.png"); then
  echo "report screenshot is blank or near-uniform (sd $sd)"; exit 1
fi
echo "report: no console messages, no external requests; screenshot $(/usr/bin/identify -format '%wx%h' "$out/report.png"), standard deviation $sd"

# --- 4. each chart alone, against its reference ------------------------------
fail=0
# chart_page SVG HTML: the chart alone on a white page of its own size.
chart_page() {
  { printf '<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{margin:0;padding:0;background:#fff}svg{display:block}</style></head><body>'
    cat "$1"; printf '</body></html>'; } > "$2"
}
for c in "${charts[@]}"; do
  svg=$out/$c.svg
  w=$(sed -n 's/^<svg[^>]* width="\([0-9.]*\)".*/\1/p' "$svg" | head -1); w=${w%.*}
  h=$(sed -n 's/^<svg[^>]* height="\([0-9.]*\)".*/\1/p' "$svg" | head -1); h=${h%.*}
  chart_page "$svg" "$out/$c.html"
  shoot "$out/$c.html" "$out/$c.png" "$w,$h" "$out/$c.netlog.json"
  [ -z "$(external_requests "$out/$c.netlog.json")" ] || { echo "$c fetched over the network"; fail=1; }
  msgs=$(console_messages "$out/$c.png.log")
  cnote="no console messages"
  [ -z "$msgs" ] || { echo "$c: console errors:"; printf '%s\n' "$msgs"; fail=1; cnote="console errors above"; }
  ref=test/charts/reference/$c.png
  if [ "${CHARTS_UPDATE_REFERENCE:-0}" = 1 ]; then
    cp "$out/$c.png" "$ref"; echo "reference $ref written"; continue
  fi
  if [ ! -f "$ref" ]; then echo "no reference $ref (CHARTS_UPDATE_REFERENCE=1 writes it)"; fail=1; continue; fi
  rc=0; res=$(differs "$ref" "$out/$c.png" "$out/$c.diff.png") || rc=$?
  case $rc in
    0) echo "$c: $res from $ref (diff in $out/$c.diff.png)"; fail=1; continue ;;
    2) echo "$c: $res"; fail=1; continue ;;
  esac
  # negative control: the same render moved by 2 px must not match
  convert "$out/$c.png" -background white -splice 2x0 -gravity east -chop 2x0 "$out/$c.moved.png"
  rc=0; moved=$(differs "$ref" "$out/$c.moved.png" "$out/$c.moved.diff.png") || rc=$?
  if [ $rc -eq 0 ]; then
    echo "$c: matches its reference ($res), $cnote; moved by 2 px it would not ($moved)"
  else
    echo "$c: the reference check passed the render moved by 2 px ($moved): it cannot fail"; fail=1
  fi
done
# negative control on the SVG side: the funnel with its step labels no
# longer right-aligned to the bars (they run into them) must not match.
if [ "${CHARTS_UPDATE_REFERENCE:-0}" != 1 ]; then
  sed 's/ text-anchor="end"//g' "$out/funnel.svg" > "$out/funnel_broken.svg"
  cmp -s "$out/funnel.svg" "$out/funnel_broken.svg" && { echo "funnel_broken: the funnel has no text-anchor to break"; fail=1; }
  chart_page "$out/funnel_broken.svg" "$out/funnel_broken.html"
  fw=$(/usr/bin/identify -format '%w' test/charts/reference/funnel.png)
  fh=$(/usr/bin/identify -format '%h' test/charts/reference/funnel.png)
  shoot "$out/funnel_broken.html" "$out/funnel_broken.png" "$fw,$fh" "$out/funnel_broken.netlog.json"
  rc=0; res=$(differs test/charts/reference/funnel.png "$out/funnel_broken.png" "$out/funnel_broken.diff.png") || rc=$?
  if [ $rc -eq 0 ]; then
    echo "funnel with broken label layout: flagged ($res)"
  else
    echo "funnel with broken label layout: the reference check did not flag it ($res)"; fail=1
  fi
fi
if [ "${CHARTS_UPDATE_REFERENCE:-0}" = 1 ]; then
  cp "$out/report.png" doc/images/value_report.png; echo "doc/images/value_report.png written"
fi
[ $fail -eq 0 ] || exit 1
echo "charts_browser layer passed"
