SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- ttfv_survival and the Kaplan-Meier code (km_summary, km_curve, km_median):
-- hand-computed curves and Greenwood intervals for small tables, then a
-- plain-SQL Kaplan-Meier on random data with ties of reached and censored.
\i test/data/diff.sql
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS prs CASCADE;
CREATE SCHEMA prs;
RESET client_min_messages;

-- Hand-computed: times 1, 1+, 2, 3+, 4, 9+ (+ = censored), horizon 5.
--   t=1: n=6 d=1 c=1  S = 5/6;      Greenwood sum = 1/30
--   t=2: n=4 d=1      S = 5/8;      sum = 1/30 + 1/12 = 7/60
--   t=3: n=3 c=1      S = 5/8
--   t=4: n=2 d=1      S = 5/16;     sum = 7/60 + 1/2 = 37/60
--   t=5: n=1 (the 9+, beyond the horizon)
-- interval: S^exp(+-1.959964 sqrt(sum) / |ln S|); at t=1:
--   se = sqrt(1/30) / ln(6/5) = 1.001371, exp(1.959964 * se) = 7.103,
--   low = (5/6)^7.103 = 0.2731, high = (5/6)^(1/7.103) = 0.9747.
SELECT t, at_risk, reached, censored, round(survival::numeric, 6) AS survival,
       round(ci_low::numeric, 4) AS ci_low, round(ci_high::numeric, 4) AS ci_high
FROM apivalue.km_curve((SELECT apivalue.km_summary(t, r, 5)
                        FROM (VALUES (1, true), (1, false), (2, true), (3, false), (4, true), (9, false)) v(t, r)));
SELECT apivalue.km_median(apivalue.km_summary(t, r, 5)) AS median_t
FROM (VALUES (1, true), (1, false), (2, true), (3, false), (4, true), (9, false)) v(t, r);
-- nobody reaches half: NULL median; everybody reaches at 0: S = 0, interval [0, 0]
SELECT apivalue.km_median(apivalue.km_summary(t, r, 3)) AS median_t
FROM (VALUES (1, true), (1, false), (2, false), (3, false)) v(t, r);
SELECT * FROM apivalue.km_curve((SELECT apivalue.km_summary(0, true, 1) FROM generate_series(1, 3)));
-- NULL t is skipped; summaries of parts add up to the summary of the whole
SELECT apivalue.km_summary(t, r, 2) FROM (VALUES (0, true), (NULL, true), (2, false), (5, true)) v(t, r);
SELECT apivalue._km_summary_combine(apivalue.km_summary(t, r, 2) FILTER (WHERE t < 2),
                                    apivalue.km_summary(t, r, 2) FILTER (WHERE t >= 2))
       = apivalue.km_summary(t, r, 2) AS parts_add_up
FROM (VALUES (0, true), (1, false), (2, false), (5, true)) v(t, r);

-- ttfv_survival on a fixed table (as_of = the latest event, 2024-01-09):
--   u1 start 01-01, value 01-03 12:00  -> reached at t = 2
--   u2 start 01-02, no value           -> censored at 7 days (beyond horizon 5)
--   u3 start 01-05, value +1 hour      -> reached at t = 0
--   u4 no start                        -> not in the curve
--   u5 start 01-09                     -> censored at t = 0
--   u6 value 01-01 before its start 01-04, value again 01-05 -> reached at t = 1
--   u7 start 01-31 (a February-free January cohort row is still January)
CREATE TABLE prs.ev (u int, ts timestamptz, e text);
INSERT INTO prs.ev VALUES
  (1, '2024-01-01', 's'), (1, '2024-01-03 12:00', 'v'), (2, '2024-01-02', 's'),
  (3, '2024-01-05', 's'), (3, '2024-01-05 01:00', 'v'), (4, '2024-01-06', 'x'), (4, '2024-01-07', 'v'),
  (5, '2024-01-09', 's'), (6, '2024-01-01', 'v'), (6, '2024-01-04', 's'), (6, '2024-01-05', 'v'),
  (NULL, '2024-02-01', 's'), (7, NULL, 's');
SELECT cohort_start, t, at_risk, reached, censored, round(survival::numeric, 6) AS survival,
       round(ci_low::numeric, 4) AS ci_low, round(ci_high::numeric, 4) AS ci_high
FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', $$e = 's'$$, $$e = 'v'$$, horizon => '5 days');
-- as_of cuts events: at 01-04 12:00 u3 and u5 have not started; u1 reached
-- at 2, u6 started at 01-04 and is censored at 0 (12 hours), u2 censored at 2.
SELECT t, at_risk, reached, censored, round(survival::numeric, 6) AS survival
FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', $$e = 's'$$, $$e = 'v'$$, horizon => '3 days',
                            as_of => '2024-01-04 12:00+00');
-- hours as the resolution, weekly cohorts in another zone
SELECT cohort_start, count(*) AS rows, max(t) AS last_t, min(survival) AS last_survival
FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', $$e = 's'$$, $$e = 'v'$$, resolution => '1 hour',
                            horizon => '2 days', cohort_period => 'week', time_zone => 'America/New_York')
GROUP BY 1 ORDER BY 1;
-- ttfv_report's km_median beside the naive median of those who reached value
SELECT cohort_start, users_started, users_reached, p50, km_median
FROM apivalue.ttfv_report('prs.ev', 'u', 'ts', $$e = 's'$$, $$e = 'v'$$, period => 'month');

-- Random data against a plain-SQL Kaplan-Meier.  Times are whole hours so
-- reached and censored users often share a t.
CREATE TABLE prs.rnd (u int, ts timestamptz, e text);
SELECT setseed(0.43);
INSERT INTO prs.rnd
SELECT u, timestamptz '2024-01-01' + ((random() * 90)::int * 12) * interval '1 hour',
       (ARRAY['start', 'value', 'other', 'value'])[1 + floor(random() * 4)::int]
FROM generate_series(1, 400) u, generate_series(1, 1 + u % 6) k;

CREATE FUNCTION prs.reference(res interval, hor int, as_of timestamptz)
RETURNS TABLE (k text, v text) LANGUAGE sql AS $$
  WITH f AS (
    SELECT u, min(ts) FILTER (WHERE e = 'start') AS st FROM prs.rnd
    WHERE ts <= coalesce(as_of, 'infinity') GROUP BY u
  ), pu AS (
    SELECT f.u, f.st,
           (SELECT min(r.ts) FROM prs.rnd r WHERE r.u = f.u AND r.e = 'value' AND r.ts >= f.st
              AND r.ts <= coalesce(as_of, 'infinity')) AS val
    FROM f WHERE f.st IS NOT NULL
  ), ao AS (
    SELECT coalesce(as_of, (SELECT max(ts) FROM prs.rnd)) AS a
  ), tt AS (
    SELECT date_trunc('month', pu.st) AS cohort,
           floor(extract(epoch FROM coalesce(pu.val, ao.a) - pu.st) / extract(epoch FROM res))::int AS t,
           pu.val IS NOT NULL AS got
    FROM pu, ao
  ), grid AS (
    SELECT c.cohort, g.t FROM (SELECT DISTINCT cohort FROM tt) c, generate_series(0, hor) g(t)
  ), cnt AS (
    SELECT g.cohort, g.t,
           (SELECT count(*) FROM tt WHERE tt.cohort = g.cohort AND tt.t >= g.t) AS n,
           (SELECT count(*) FROM tt WHERE tt.cohort = g.cohort AND tt.t = g.t AND tt.got) AS d,
           (SELECT count(*) FROM tt WHERE tt.cohort = g.cohort AND tt.t = g.t AND NOT tt.got) AS c
    FROM grid g
  ), km AS (
    SELECT cnt.*,
           exp(sum(CASE WHEN d > 0 AND d < n THEN ln(1 - d::float8 / n) END)
               OVER (PARTITION BY cohort ORDER BY t)) AS s_pos,
           bool_or(d > 0 AND d = n) OVER (PARTITION BY cohort ORDER BY t) AS zero,
           sum(CASE WHEN d > 0 AND d < n THEN d::float8 / (n * (n - d)) ELSE 0 END)
               OVER (PARTITION BY cohort ORDER BY t) AS gw
    FROM cnt
  ), s AS (
    SELECT km.*, CASE WHEN zero THEN 0 ELSE coalesce(s_pos, 1) END AS s FROM km
  )
  SELECT cohort || '/' || t,
         concat_ws(' ', n, d, c, round(s::numeric, 9),
                   round((CASE WHEN s >= 1 THEN 1 WHEN s <= 0 THEN 0
                               ELSE s ^ exp(1.959963984540054 * sqrt(gw) / abs(ln(s))) END)::numeric, 9),
                   round((CASE WHEN s >= 1 THEN 1 WHEN s <= 0 THEN 0
                               ELSE s ^ exp(-1.959963984540054 * sqrt(gw) / abs(ln(s))) END)::numeric, 9))
  FROM s
$$;

CREATE FUNCTION prs.actual(res interval, hor interval, as_of timestamptz)
RETURNS TABLE (k text, v text) LANGUAGE sql AS $$
  SELECT cohort_start || '/' || t,
         concat_ws(' ', at_risk, reached, censored, round(survival::numeric, 9),
                   round(ci_low::numeric, 9), round(ci_high::numeric, 9))
  FROM apivalue.ttfv_survival('prs.rnd', 'u', 'ts', $c$e = 'start'$c$, $c$e = 'value'$c$,
                              resolution => res, horizon => hor, as_of => as_of)
$$;

SET timezone = 'UTC';
SELECT label, d.compared, d.mismatches, d.first_mismatch
FROM (VALUES ('days, horizon 20', '1 day'::interval, 20, '20 days'::interval, NULL::timestamptz),
             ('12 hours, horizon 30', '12 hours', 30, '15 days', NULL),
             ('days, as_of inside the data', '1 day', 10, '10 days', '2024-01-20 06:00+00'),
             ('weeks, horizon 4', '7 days', 4, '4 weeks', NULL)) c(label, res, hor, hor_i, as_of),
     LATERAL avtest.diff(format('SELECT * FROM prs.actual(%L, %L, %L)', res, hor_i, as_of),
                         format('SELECT * FROM prs.reference(%L, %s, %L)', res, hor, as_of)) d
ORDER BY 1;
RESET timezone;

-- _ttfv_point, ttfv_survival's per-user aggregate, against plain SQL: first
-- start, first value at or after it, latest event (values often come first)
SELECT count(*) AS users,
       count(*) FILTER (WHERE a.p IS DISTINCT FROM r.p) AS mismatches,
       count(*) FILTER (WHERE r.p[1] IS NOT NULL AND r.p[2] IS NULL) AS without_value
FROM (SELECT u, apivalue._ttfv_point(ts, e = 'start', e = 'value') AS p FROM prs.rnd GROUP BY u) a
FULL JOIN (
  SELECT x.u, ARRAY[x.st, (SELECT min(v.ts) FROM prs.rnd v
                           WHERE v.u = x.u AND v.e = 'value' AND v.ts >= x.st), x.lt] AS p
  FROM (SELECT u, min(ts) FILTER (WHERE e = 'start') AS st, max(ts) AS lt
        FROM prs.rnd GROUP BY u) x) r USING (u);

-- km_median of ttfv_report matches the first t of ttfv_survival with S <= 0.5
SELECT r.cohort_start, r.km_median,
       (SELECT min(t) FROM apivalue.ttfv_survival('prs.rnd', 'u', 'ts', $c$e = 'start'$c$, $c$e = 'value'$c$,
                                                  horizon => '60 days') s
        WHERE s.cohort_start = r.cohort_start AND s.survival <= 0.5) * interval '1 day' AS from_curve,
       r.p50 AS naive_p50
FROM apivalue.ttfv_report('prs.rnd', 'u', 'ts', $c$e = 'start'$c$, $c$e = 'value'$c$, period => 'month') r
ORDER BY 1;

-- bad input
CREATE FUNCTION prs.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT prs.err(q) FROM (VALUES
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', 'e', 'true')$$),
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', 'true', 'nope')$$),
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'e', 'true', 'true')$$),
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', 'true', 'true', resolution => '0')$$),
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', 'true', 'true', horizon => '-1 day')$$),
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', 'true', 'true', resolution => '1 second', horizon => '90 days')$$),
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', 'true', 'true', cohort_period => 'fortnight')$$),
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', 'true', 'true', time_zone => 'Mars/Olympus')$$),
  ($$SELECT * FROM apivalue.ttfv_survival('prs.ev', 'u', 'ts', 'true', 'true', as_of => 'infinity')$$),
  ($$SELECT apivalue.km_summary(-1, true, 5)$$),
  ($$SELECT apivalue.km_summary(1, true, -5)$$),
  ($$SELECT * FROM apivalue.km_curve('{2,0,1}')$$),
  ($$SELECT * FROM apivalue.km_curve('{1,0,1,1,-1,0}')$$)
) v(q);

SET client_min_messages = warning;
DROP SCHEMA prs CASCADE;
RESET client_min_messages;
