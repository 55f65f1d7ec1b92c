-- sum_arrays, retention_activity and retention_by_mode: edge cases and
-- randomized comparisons with plain SQL.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
\i test/data/diff.sql

-- sum_arrays: ragged, NULL arrays and elements, empty arrays, lower bounds
SELECT apivalue.sum_arrays(a) AS ints
FROM (VALUES ('{1,2}'::int[]), ('{1,NULL,3}'), (NULL), ('{}'), ('[0:1]={5,5}')) v(a);
SELECT apivalue.sum_arrays(a) AS bigints
FROM (VALUES ('{9000000000}'::bigint[]), ('{1,NULL,3}'), (NULL)) v(a);
SELECT apivalue.sum_arrays(a) AS all_null FROM (VALUES (NULL::int[]), (NULL)) v(a);
SELECT apivalue.sum_arrays(a) AS only_empty FROM (VALUES ('{}'::int[])) v(a);
SELECT apivalue.sum_arrays(a) AS no_rows FROM (VALUES ('{1}'::int[])) v(a) WHERE false;
SELECT pg_typeof(apivalue.sum_arrays(a)) FROM (VALUES ('{1}'::int[])) v(a);
-- errors: two dimensions, overflow
SELECT apivalue.sum_arrays(a) FROM (VALUES ('{{1,2},{3,4}}'::int[])) v(a);
SELECT apivalue.sum_arrays(a) FROM (VALUES ('{9223372036854775807}'::bigint[]), ('{1}')) v(a);

-- Randomized: ragged arrays with NULLs, summed per group vs unnest reference.
SELECT setseed(0.31);
CREATE TABLE ret_arrays AS
SELECT g, CASE WHEN random() < 0.05 THEN NULL
               ELSE ARRAY(SELECT CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 1000)::int - 100 END
                          FROM generate_series(1, (random() * 12)::int + (i % 2) - (i % 2))) END AS a
FROM generate_series(1, 4000) i, LATERAL (SELECT i % 17 AS g) x;
SELECT * FROM avtest.diff(
  $$SELECT g::text AS k, apivalue.sum_arrays(a)::text AS v FROM ret_arrays GROUP BY g$$,
  $$WITH s AS MATERIALIZED (
      SELECT g, n, coalesce(sum(x), 0) AS s
      FROM ret_arrays, unnest(a) WITH ORDINALITY AS t(x, n) GROUP BY g, n),
    gg AS (SELECT g, bool_and(a IS NULL) AS all_null FROM ret_arrays GROUP BY g)
    SELECT gg.g::text AS k,
           CASE WHEN gg.all_null THEN NULL
                ELSE coalesce((SELECT array_agg(s.s ORDER BY s.n) FROM s WHERE s.g = gg.g), '{}')::text END AS v
    FROM gg$$);
SELECT * FROM avtest.diff(
  $$SELECT 'all' AS k, apivalue.sum_arrays(a::bigint[])::text AS v FROM ret_arrays$$,
  $$SELECT 'all' AS k, (SELECT array_agg(s ORDER BY n) FROM
      (SELECT n, coalesce(sum(x), 0) AS s FROM ret_arrays, unnest(a) WITH ORDINALITY AS t(x, n) GROUP BY n) q)::text AS v$$);

-- retention_activity: hand-made cases (ISO weeks, UTC)
CREATE TABLE ret_act (u int, ts timestamptz, c boolean, a boolean);
INSERT INTO ret_act VALUES
  -- cohort week of Mon 2024-01-01; active in weeks 0, 2 and 5 (dropped: beyond 4)
  (1, '2024-01-02', true, true), (1, '2024-01-16', false, true), (1, '2024-02-06', false, true),
  -- activity before the first cohort event, and an earlier cohort event arriving later
  (2, '2024-01-20', false, true), (2, '2024-01-29', true, true), (2, '2024-01-09', true, false),
  -- no cohort event: NULL
  (3, '2024-01-02', false, true),
  -- a cohort event only
  (4, '2024-01-03', true, false),
  -- activity years apart (bitmap spans many words)
  (5, '2020-01-01', false, true), (5, '2024-01-03', true, true), (5, '2024-01-10', false, true),
  (5, '2030-01-01', false, true),
  -- NULLs skipped
  (6, NULL, true, true), (6, '2024-01-03', NULL, true), (6, '2024-01-10', true, NULL);
SELECT u, apivalue.retention_activity(ts, c, a, 4, 'week', 'UTC') AS weeks,
       apivalue.retention_activity(ts, c, a, 4, 'week', 'UTC' ORDER BY ts DESC) AS weeks_reversed,
       apivalue.retention_activity(ts, c, a, 2, 'month', 'America/New_York', 'en_US') AS months
FROM ret_act GROUP BY u ORDER BY u;
-- errors
SELECT apivalue.retention_activity(ts, c, a, -1, 'week', 'UTC') FROM ret_act;
SELECT apivalue.retention_activity(ts, c, a, 4, 'fortnight', 'UTC') FROM ret_act;
SELECT apivalue.retention_activity(ts, c, a, CASE WHEN c THEN 4 ELSE 5 END, 'week', 'UTC') FROM ret_act WHERE u = 1;
SELECT apivalue.retention_activity(ts, c, a, 4, 'week', NULL) FROM ret_act;
SELECT apivalue.retention_activity(ts, true, true, 4, 'week', 'UTC')
FROM (VALUES ('-infinity'::timestamptz)) v(ts);

-- retention_by_mode
SELECT m, apivalue.retention_by_mode('{1,0,1,0,0,1,0}', m, b) AS result
FROM (VALUES ('classic', NULL::int4range[]), ('unbounded', NULL), ('rolling', NULL),
             ('bracket', '{"[1,2]","[3,4]","[5,6]","[6,10]"}')) v(m, b);
SELECT apivalue.retention_by_mode('{1,0}', 'weekly');
SELECT apivalue.retention_by_mode('{1,0}', 'bracket');
SELECT apivalue.retention_by_mode('{1,0}', 'bracket', '{"[0,2]"}');
SELECT apivalue.retention_by_mode('{1,0}', 'bracket', '{"[1,)"}');

-- Randomized: retention_activity vs plain SQL (weeks of de_DE in Berlin:
-- Monday weeks, so date_trunc('week', ts, zone) is the reference), with
-- start and activity flags and events in random physical order.
SELECT setseed(0.53);
CREATE TABLE ret_ev AS
SELECT (random() * 300)::int AS u,
       '2024-01-01'::timestamptz + random() * interval '200 days' AS ts,
       random() < 0.3 AS c, random() < 0.6 AS a
FROM generate_series(1, 9000);
SELECT * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.retention_activity(ts, c, a, 10, 'week', 'Europe/Berlin', 'de_DE')::text AS v
    FROM ret_ev GROUP BY u$$,
  $$WITH f AS (SELECT u, date_trunc('week', min(ts) FILTER (WHERE c), 'Europe/Berlin') AS cw FROM ret_ev GROUP BY u),
    act AS (SELECT DISTINCT e.u, round(extract(epoch FROM date_trunc('week', e.ts, 'Europe/Berlin') - f.cw) / 604800)::int AS n
            FROM ret_ev e JOIN f USING (u) WHERE e.a)
    SELECT f.u::text AS k,
           CASE WHEN f.cw IS NOT NULL THEN
             (SELECT array_agg(CASE WHEN act.u IS NULL THEN 0 ELSE 1 END ORDER BY gs.k)
              FROM generate_series(0, 10) AS gs(k) LEFT JOIN act ON act.u = f.u AND act.n = gs.k)::text END AS v
    FROM f$$);
-- the matrix in one GROUP BY: per cohort week, sum of the users' arrays
SELECT * FROM avtest.diff(
  $$SELECT cw::text AS k, apivalue.sum_arrays(act)::text AS v
    FROM (SELECT date_trunc('week', min(ts) FILTER (WHERE c), 'Europe/Berlin') AS cw,
                 apivalue.retention_activity(ts, c, a, 6, 'week', 'Europe/Berlin') AS act
          FROM ret_ev GROUP BY u) pu
    WHERE act IS NOT NULL GROUP BY cw$$,
  $$WITH f AS (SELECT u, date_trunc('week', min(ts) FILTER (WHERE c), 'Europe/Berlin') AS cw FROM ret_ev GROUP BY u),
    act AS (SELECT DISTINCT e.u, f.cw, round(extract(epoch FROM date_trunc('week', e.ts, 'Europe/Berlin') - f.cw) / 604800)::int AS n
            FROM ret_ev e JOIN f USING (u) WHERE e.a AND f.cw IS NOT NULL),
    cnt AS (SELECT c.cw, gs.k, count(act.u) AS users
            FROM (SELECT DISTINCT cw FROM f WHERE cw IS NOT NULL) c CROSS JOIN generate_series(0, 6) AS gs(k)
            LEFT JOIN act ON act.cw = c.cw AND act.n = gs.k
            GROUP BY c.cw, gs.k)
    SELECT cw::text AS k, array_agg(users ORDER BY k)::text AS v FROM cnt GROUP BY cw$$);

-- Period numbers come from a table of period boundaries when the calendar
-- is constant: compare _retention_user with period_index row by row (random
-- physical order) for hours across Lord Howe's half-hour DST shift (the
-- table must notice and step aside), days over 40 years (more periods than
-- the table holds: it starts over), months in Kathmandu (+05:45), en_US weeks
-- in New York across the DST change, and hours in UTC.
SELECT setseed(0.77);
CREATE TABLE ret_cal AS
SELECT (random() * 40)::int AS u,
       CASE WHEN random() < 0.05 THEN '1990-01-01'::timestamptz + random() * interval '40 years'
            ELSE '2024-03-01'::timestamptz + random() * interval '40 days' END AS ts,
       random() < 0.2 AS c, random() < 0.7 AS a
FROM generate_series(1, 3000);
CREATE TABLE ret_cal_cfg (period text, zone text, locale text, periods int);
INSERT INTO ret_cal_cfg VALUES ('hour', 'Australia/Lord_Howe', NULL, 30), ('day', 'America/New_York', NULL, 9),
  ('month', 'Asia/Kathmandu', 'en_US', 2), ('week', 'America/New_York', 'en_US', 3), ('hour', 'UTC', NULL, 50);
SELECT cfg.period, cfg.zone, d.*
FROM ret_cal_cfg cfg, LATERAL avtest.diff(
  format($$SELECT u::text AS k, apivalue._retention_user(ts, c, a, %s, %L, %L, %L)::text AS v
           FROM ret_cal GROUP BY u$$, cfg.periods, cfg.period, cfg.zone, cfg.locale),
  format($$WITH p AS (SELECT u, ts, c, a, apivalue.period_index(ts, %2$L, %3$L, %4$L) AS i FROM ret_cal),
           f AS (SELECT u, (array_agg(i ORDER BY ts) FILTER (WHERE c))[1] AS ci, max(i) AS last FROM p GROUP BY u)
           SELECT u::text AS k,
                  (ARRAY[ci, last] || ARRAY(SELECT CASE WHEN EXISTS (SELECT FROM p WHERE p.u = f.u AND p.a AND p.i = f.ci + k)
                                                        THEN 1 ELSE 0 END
                                            FROM generate_series(0, %1$s) AS k ORDER BY k))::text AS v
           FROM f$$, cfg.periods, cfg.period, cfg.zone, cfg.locale)) d
ORDER BY 1, 2;
-- the same through a generic plan (the calendar arrives as parameters)
SET plan_cache_mode = force_generic_plan;
PREPARE ret_cal_q(text, text) AS
  SELECT u, apivalue._retention_user(ts, c, a, 9, $1, $2, NULL) AS r FROM ret_cal GROUP BY u;
CREATE TEMP TABLE ret_cal_generic AS EXECUTE ret_cal_q('day', 'America/New_York');
RESET plan_cache_mode;
SELECT * FROM avtest.diff(
  $$SELECT u::text AS k, r::text AS v FROM ret_cal_generic$$,
  $$SELECT u::text AS k, apivalue._retention_user(ts, c, a, 9, 'day', 'America/New_York', NULL)::text AS v
    FROM ret_cal GROUP BY u$$);
DEALLOCATE ret_cal_q;

-- _retention_counts: one user's row of the matrix (cohort_retention's)
SELECT m, b, apivalue._retention_counts(ru, m, b) AS counts
FROM (VALUES ('{5,9,1,0,0,1,0,0,0}'::bigint[]), ('{NULL,9,0,0,0,0,0,0,0}')) r(ru),
     (VALUES ('classic', NULL::int4range[]), ('bracket', '{"[1,2]","[3,4]","[5,6]","[6,10]"}')) v(m, b)
ORDER BY 1, 2, 3;
SELECT apivalue._retention_counts('{5,9,1,0}', 'unbounded', NULL);
SELECT apivalue._retention_counts('{5,9,1,0}', 'bracket', NULL);
SELECT apivalue._retention_counts('{5,9,1,0}', 'bracket', '{"[0,2]"}');
SELECT apivalue._retention_counts('{5,9}', 'classic', NULL);
SELECT apivalue._retention_counts('{5,9,NULL}', 'classic', NULL);

DROP TABLE ret_arrays, ret_act, ret_ev, ret_cal, ret_cal_cfg;
