-- test/charts/fixtures.sql: one SVG per chart from fixed inputs, for the
-- browser layer's reference screenshots (test/charts/reference/<name>.png).
-- Output: one line per chart, "name<TAB>svg".
SET TimeZone = 'UTC';
WITH ret AS (
  SELECT to_char(date '2026-01-05' + 7 * c, 'YYYY-MM-DD') AS cohort, p AS period,
         CASE WHEN p = 0 THEN 1.0 ELSE round((0.8 * exp(-0.15 * p) * (0.8 + 0.4 * abs(hashint4(c * 100 + p)) / 2147483647.0))::numeric, 3)::float8 END AS rate
  FROM generate_series(0, 9) c, generate_series(0, 9) p WHERE c + p <= 9),
fun AS (
  SELECT * FROM (VALUES (1, 'signup', 1000::bigint), (2, 'create_key', 620), (3, 'first_call', 410),
                        (4, 'a step with a very long label that is cut', 180), (5, 'upgrade', 55)) v(step, label, users)),
flows AS (
  SELECT d AS depth, f AS from_step, t AS to_step, (10 + abs(hashint4(d * 1000 + i * 10 + j)) % 90)::bigint AS users
  FROM generate_series(1, 3) d,
       LATERAL (VALUES (1, 'signup'), (2, 'docs'), (3, 'key')) a(i, f),
       LATERAL (VALUES (1, 'docs'), (2, 'key'), (3, 'call'), (4, NULL)) b(j, t)
  WHERE f IS DISTINCT FROM t AND (d > 1 OR f = 'signup')),
curve AS (
  SELECT 'segment ' || k AS s, x::float8 AS x, exp(-x / (10.0 * k)) AS y,
         exp(-x / (10.0 * k)) * 0.9 AS lo, least(exp(-x / (10.0 * k)) * 1.1, 1) AS hi
  FROM generate_series(1, 3) k, generate_series(0, 40, 2) x),
runs AS (
  SELECT 'check_' || c AS check_name, timestamptz '2026-03-01' + r * interval '1 hour' AS run_at,
         (ARRAY['pass', 'pass', 'pass', 'warn', 'fail', 'error'])[1 + abs(hashint4(c * 100 + r)) % 6] AS status
  FROM generate_series(1, 4) c, generate_series(1, 6 + 3 * c) r)
SELECT 'heatmap', (SELECT apivalue.heatmap_svg(cohort, period, rate, '{"title": "Weekly retention"}') FROM ret)
UNION ALL SELECT 'funnel', (SELECT apivalue.funnel_svg(step, label, users, '{"title": "Activation funnel"}') FROM fun)
UNION ALL SELECT 'sankey', (SELECT apivalue.sankey_svg(depth, from_step, to_step, users) FROM flows)
UNION ALL SELECT 'line', (SELECT apivalue.line_svg(s, x, y, lo, hi, '{"title": "Survival", "step": true, "x_label": "days", "y_label": "still waiting"}') FROM curve)
UNION ALL SELECT 'status', (SELECT apivalue.status_strip_svg(check_name, run_at, status) FROM runs)
UNION ALL SELECT 'nodata', (SELECT apivalue.funnel_svg(1, 'x', 1::bigint, '{"title": "Nothing"}') FROM fun WHERE false);
