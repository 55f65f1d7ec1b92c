SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- Chart aggregates: well-formed SVG, structure equal to the input rows,
-- labels and values where expected, deterministic whatever the input order.
SET TimeZone = 'UTC';
CREATE SCHEMA charts_t;
-- xpath with the SVG namespace: number of nodes / their texts
CREATE FUNCTION charts_t.n(svg text, path text) RETURNS integer LANGUAGE sql AS $$
  SELECT (xpath('count(' || path || ')', svg::xml, ARRAY[ARRAY['s', 'http://www.w3.org/2000/svg']]))[1]::text::numeric::integer $$;
CREATE FUNCTION charts_t.texts(svg text, path text) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(x::text) FROM unnest(xpath(path, svg::xml, ARRAY[ARRAY['s', 'http://www.w3.org/2000/svg']])) x $$;
-- the unescaped string value of the first node found (xpath string())
CREATE FUNCTION charts_t.str(svg text, path text) RETURNS text LANGUAGE sql AS $$
  SELECT (xpath('string(' || path || ')', svg::xml, ARRAY[ARRAY['s', 'http://www.w3.org/2000/svg']]))[1]::text $$;

-- Inputs: deterministic pseudo-random retention triangle (12 cohorts, up to
-- 10 periods), funnel, journey flows, curves, check history.
CREATE TABLE charts_t.ret AS
SELECT to_char(date '2026-01-05' + 7 * c, 'YYYY-MM-DD') AS cohort, p AS period,
       CASE WHEN p = 0 THEN 1.0 ELSE round((0.8 * exp(-0.15 * p) * (0.8 + 0.4 * abs(hashint4(c * 100 + p)) / 2147483647.0))::numeric, 3)::float8 END AS rate
FROM generate_series(0, 11) c, generate_series(0, 9) p WHERE c + p <= 11;
CREATE TABLE charts_t.fun (step int, label text, users bigint);
INSERT INTO charts_t.fun VALUES (1, 'signup', 1000), (2, 'create_key', 620), (3, 'first_call', 410), (4, 'upgrade', 55);
CREATE TABLE charts_t.flows AS
SELECT d AS depth, f AS from_step, t AS to_step, (10 + abs(hashint4(d * 1000 + i * 10 + j)) % 90)::bigint AS users
FROM generate_series(1, 3) d,
     LATERAL (VALUES (1, 'signup'), (2, 'docs'), (3, 'key')) a(i, f),
     LATERAL (VALUES (1, 'docs'), (2, 'key'), (3, 'call'), (4, NULL)) b(j, t)
WHERE f IS DISTINCT FROM t AND (d > 1 OR f = 'signup');
CREATE TABLE charts_t.curve AS
SELECT s, x::float8 AS x, exp(-x / (10.0 * k)) AS y, exp(-x / (10.0 * k)) * 0.9 AS lo, least(exp(-x / (10.0 * k)) * 1.1, 1) AS hi
FROM generate_series(1, 3) k, LATERAL (SELECT 'segment ' || k AS s) n, generate_series(0, 40, 2) x;
CREATE TABLE charts_t.runs AS
SELECT 'check_' || c AS check_name, timestamptz '2026-03-01' + r * interval '1 hour' AS run_at,
       (ARRAY['pass', 'pass', 'pass', 'warn', 'fail', 'error'])[1 + abs(hashint4(c * 100 + r)) % 6] AS status
FROM generate_series(1, 4) c, generate_series(1, 3 + 2 * c) r;

CREATE TABLE charts_t.out AS
SELECT 'heatmap' AS chart, (SELECT apivalue.heatmap_svg(cohort, period, rate) FROM charts_t.ret) AS svg,
       (SELECT count(*) FROM charts_t.ret) AS rows
UNION ALL SELECT 'funnel', (SELECT apivalue.funnel_svg(step, label, users) FROM charts_t.fun), (SELECT count(*) FROM charts_t.fun)
UNION ALL SELECT 'sankey', (SELECT apivalue.sankey_svg(depth, from_step, to_step, users) FROM charts_t.flows), (SELECT count(*) FROM charts_t.flows)
UNION ALL SELECT 'line', (SELECT apivalue.line_svg(s, x, y, lo, hi, '{"step": true, "title": "Survival"}') FROM charts_t.curve), (SELECT count(*) FROM charts_t.curve)
UNION ALL SELECT 'status', (SELECT apivalue.status_strip_svg(check_name, run_at, status) FROM charts_t.runs), (SELECT count(*) FROM charts_t.runs);

-- every chart: a well-formed SVG document with role="img", <title> and <desc>
-- first, no script, no event handler, no external reference
SELECT chart, rows, xml_is_well_formed_document(svg) AS well_formed,
       charts_t.n(svg, '/s:svg[@role="img"]') AS root,
       charts_t.str(svg, 'name(/s:svg/*[1])') || ',' || charts_t.str(svg, 'name(/s:svg/*[2])') AS first_children,
       charts_t.n(svg, '//s:script | //s:foreignObject | //s:image | //s:use | //@*[starts-with(name(), "on")] | //@*[local-name() = "href"]') AS active,
       svg !~ 'https?://(?!www\.w3\.org/2000/svg")' AS no_urls
FROM charts_t.out ORDER BY chart;

-- structure: one cell / bar / link / run per input row, one line per series
SELECT 'heatmap cells' AS what, charts_t.n(svg, '//s:rect[@class="cell"]') AS drawn, rows AS expected FROM charts_t.out WHERE chart = 'heatmap'
UNION ALL SELECT 'heatmap row labels', charts_t.n(svg, '//s:text[@class="row-label"]'), (SELECT count(DISTINCT cohort) FROM charts_t.ret) FROM charts_t.out WHERE chart = 'heatmap'
UNION ALL SELECT 'heatmap column labels', charts_t.n(svg, '//s:text[@class="column-label"]'), (SELECT count(DISTINCT period) FROM charts_t.ret) FROM charts_t.out WHERE chart = 'heatmap'
UNION ALL SELECT 'funnel bars', charts_t.n(svg, '//s:rect[@class="bar"]'), rows FROM charts_t.out WHERE chart = 'funnel'
UNION ALL SELECT 'funnel drop-offs', charts_t.n(svg, '//s:rect[@class="drop"]'), rows - 1 FROM charts_t.out WHERE chart = 'funnel'
UNION ALL SELECT 'sankey links', charts_t.n(svg, '//s:path[@class="link" or @class="drop"]'), rows FROM charts_t.out WHERE chart = 'sankey'
UNION ALL SELECT 'sankey drop-off links', charts_t.n(svg, '//s:path[@class="drop"]'), (SELECT count(*) FROM charts_t.flows WHERE to_step IS NULL) FROM charts_t.out WHERE chart = 'sankey'
UNION ALL SELECT 'sankey nodes', charts_t.n(svg, '//s:rect[@class="node"]'),
       (SELECT count(*) FROM (SELECT depth - 1, from_step, false FROM charts_t.flows UNION SELECT depth, coalesce(to_step, ''), to_step IS NULL FROM charts_t.flows) z) FROM charts_t.out WHERE chart = 'sankey'
UNION ALL SELECT 'line series', charts_t.n(svg, '//s:path[@class="line"]'), (SELECT count(DISTINCT s) FROM charts_t.curve) FROM charts_t.out WHERE chart = 'line'
UNION ALL SELECT 'line bands', charts_t.n(svg, '//s:path[@class="band"]'), (SELECT count(DISTINCT s) FROM charts_t.curve) FROM charts_t.out WHERE chart = 'line'
UNION ALL SELECT 'line vertices', (SELECT sum(array_length(regexp_split_to_array(d::text, '[MHL]'), 1) - 1)::integer FROM unnest(charts_t.texts(svg, '//s:path[@class="line"]/@d')) d), rows FROM charts_t.out WHERE chart = 'line'
UNION ALL SELECT 'status runs', charts_t.n(svg, '//s:rect[@class="run"]'), rows FROM charts_t.out WHERE chart = 'status'
ORDER BY 1;

-- values where expected: each heatmap cell's tooltip names its row, column
-- and value; each funnel bar's tooltip its label and users
SELECT count(*) AS cells_checked,
       count(*) FILTER (WHERE charts_t.str(o.svg, format('//s:g[s:rect[@class="cell"]][s:title = "%s, period %s: %s"]/s:rect/@fill',
                                                    r.cohort, r.period, to_char(round((r.rate * 100)::numeric, 1), 'FM990.0') || '%')) ~ '^#[0-9a-f]{6}$') AS cells_found
FROM charts_t.ret r, charts_t.out o WHERE o.chart = 'heatmap';
SELECT f.label, charts_t.str(o.svg, format('//s:g[s:title = "%s: %s users"]/s:rect[@class="bar"]/@width', f.label, to_char(f.users, 'FM999,990'))) AS bar_width
FROM charts_t.fun f, charts_t.out o WHERE o.chart = 'funnel' ORDER BY f.step;
SELECT charts_t.texts(svg, '//s:text[@class="bar-text"]/text()') AS funnel_texts FROM charts_t.out WHERE chart = 'funnel';
-- sankey: link widths proportional to users (height at the source end / users is constant)
WITH l AS (
  SELECT t::text AS title, d::text AS d
  FROM charts_t.out o,
       unnest(charts_t.texts(o.svg, '//s:path[@class="link" or @class="drop"]/s:title/text()'),
              charts_t.texts(o.svg, '//s:path[@class="link" or @class="drop"]/@d')) AS x(t, d)
  WHERE o.chart = 'sankey'),
m AS (
  -- d = "Mx0 y0 C... x1 y1 Lx1 y1b C... x0 y0b Z": the width at the source end is y0b - y0
  SELECT title, (regexp_match(title, ': ([0-9]+) users$'))[1]::numeric AS users,
         (regexp_match(d, '([0-9.]+) Z$'))[1]::numeric - (regexp_match(d, '^M[0-9.]+ ([0-9.]+)'))[1]::numeric AS width
  FROM l)
SELECT count(*) AS links, round(max(width / users) - min(width / users), 2) AS spread_of_width_per_user,
       count(*) FILTER (WHERE title ~ 'drop-off') AS drop_offs
FROM m;

-- determinism: the same rows in any order give the same picture
SELECT (SELECT apivalue.heatmap_svg(cohort, period, rate ORDER BY cohort DESC, period DESC) FROM charts_t.ret)
     = (SELECT apivalue.heatmap_svg(cohort, period, rate ORDER BY rate, period) FROM charts_t.ret) AS heatmap_same,
       (SELECT apivalue.sankey_svg(depth, from_step, to_step, users ORDER BY users) FROM charts_t.flows)
     = (SELECT apivalue.sankey_svg(depth, from_step, to_step, users ORDER BY users DESC) FROM charts_t.flows) AS sankey_same,
       (SELECT apivalue.line_svg(s, x, y, lo, hi ORDER BY x DESC) FROM charts_t.curve)
     = (SELECT apivalue.line_svg(s, x, y, lo, hi ORDER BY s DESC, x) FROM charts_t.curve) AS line_same,
       (SELECT apivalue.status_strip_svg(check_name, run_at, status ORDER BY run_at DESC) FROM charts_t.runs)
     = (SELECT apivalue.status_strip_svg(check_name, run_at, status ORDER BY check_name, run_at) FROM charts_t.runs) AS status_same,
       (SELECT apivalue.funnel_svg(step, label, users ORDER BY step DESC) FROM charts_t.fun)
     = (SELECT apivalue.funnel_svg(step, label, users ORDER BY step) FROM charts_t.fun) AS funnel_same;

-- a small picture in full: a two-step funnel
SELECT apivalue.funnel_svg(step, label, users, '{"title": "Two steps", "width": 400}')
FROM (VALUES (1, 'a', 10::bigint), (2, 'b', 4::bigint)) v(step, label, users);

-- options: title, size, scheme, labels
SELECT charts_t.str(svg, '/s:svg/s:title') AS title, charts_t.str(svg, '/s:svg/@width') AS width,
       charts_t.str(svg, '/s:svg/@height') AS height,
       charts_t.str(svg, '//s:rect[@class="legend"][1]/@fill') AS legend_low,
       charts_t.str(svg, '//s:rect[@class="legend"][10]/@fill') AS legend_high
FROM (SELECT apivalue.heatmap_svg(cohort, period, rate, '{"title": "Weekly retention", "width": 800, "height": 500, "scheme": "blues"}') AS svg
      FROM charts_t.ret) z;
SELECT apivalue._chart_colour('viridis', 0) AS v0, apivalue._chart_colour('viridis', 0.5) AS v5,
       apivalue._chart_colour('viridis', 1) AS v1, apivalue._chart_colour('blues', 0) AS b0,
       apivalue._chart_colour('blues', 1) AS b1, apivalue._chart_colour('viridis', 2) AS clamped;
