-- User objects built on apivalue, created under an OLD version before
-- ALTER EXTENSION apivalue UPDATE (test/layers/upgrade.sh): a small generated
-- event table, views and materialized views over aggregates and table
-- functions of several families, a user table holding a latency_summary
-- column, a SQL-standard function body (which records dependencies on the
-- functions it calls), and user rows in the extension's config tables (a
-- metric, a quality check and its results).  Uses only API present since
-- 0.1.0.  test/upgrade/user_answers.sql reads them all.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET timezone = 'UTC';

-- 60 users, 4 to 19 events each, deterministic (no random()).
CREATE TABLE public.upg_events AS
SELECT 'u' || lpad(u::text, 2, '0') AS user_id,
       timestamptz '2024-01-01 00:00+00' + (u % 11) * interval '1 day'
         + i * ((u * 7 + i * 13) % 29 + 1) * interval '37 minutes' AS ts,
       (ARRAY['signup', 'key', 'call', 'call', 'error', 'pay', 'call', 'docs'])
         [1 + CASE WHEN i = 0 THEN 0 ELSE (u * 5 + i * 3 + (u * i) % 7) % 8 END] AS event,
       (u * 100 + i + CASE WHEN (u + i) % 9 = 0 THEN 2 ELSE 0 END)::bigint AS seq,
       ((u * 31 + i * 17) % 500 + 1) * 1.5::float8 AS latency_ms,
       (ARRAY[200, 200, 200, 201, 400, 404, 500, 200])[1 + (u + 3 * i) % 8] AS status,
       'fp' || ((u * i) % 23)::text AS fp
  FROM generate_series(1, 60) u, generate_series(0, 3 + u % 16) i;

CREATE VIEW public.upg_funnel_v AS
SELECT user_id,
       apivalue.window_funnel(interval '2 days', ts,
         event = 'signup', event = 'key', event = 'call', event = 'pay') AS level,
       apivalue.window_funnel(interval '1 day', 'strict_order', ts,
         event = 'signup', event = 'call', event = 'pay') AS strict_level
  FROM public.upg_events GROUP BY user_id;

CREATE MATERIALIZED VIEW public.upg_funnel_counts_mv AS
SELECT apivalue.funnel_counts(level, 4) AS reached FROM public.upg_funnel_v;

CREATE VIEW public.upg_retention_v AS
SELECT user_id,
       apivalue.retention(event = 'signup', event = 'call', event = 'pay') AS retained,
       apivalue.sequence_match('(?1).*(?2)', ts, event = 'signup', event = 'pay') AS signup_then_pay,
       apivalue.sequence_count('(?1)(?2)', ts, event = 'call', event = 'error') AS call_then_error
  FROM public.upg_events GROUP BY user_id;

CREATE VIEW public.upg_journey_v AS
SELECT user_id, apivalue.journey_path(ts, event, 5) AS path
  FROM public.upg_events GROUP BY user_id;

CREATE MATERIALIZED VIEW public.upg_cohort_mv AS
SELECT * FROM apivalue.cohort_retention('public.upg_events', 'user_id', 'ts', periods => 3,
                                        start_condition => $$event = 'signup'$$);

CREATE VIEW public.upg_ttfv_v AS
SELECT user_id,
       apivalue.time_to_first_value(ts, event = 'signup', event = 'pay') AS ttfv,
       apivalue.value_at_first(ts, event = 'call', status::text) AS first_call_status
  FROM public.upg_events GROUP BY user_id;

CREATE VIEW public.upg_km_v AS
SELECT apivalue.km_median(apivalue.km_summary(days, reached, 30)) AS median_days,
       apivalue.km_summary(days, reached, 30) AS km
  FROM (SELECT extract(day FROM ttfv)::int AS days, ttfv IS NOT NULL AS reached
          FROM public.upg_ttfv_v) t
 WHERE days IS NOT NULL OR NOT reached;

CREATE VIEW public.upg_quality_v AS
SELECT apivalue.dead_time(ts, interval '6 hours') AS dead,
       apivalue.near_duplicate_count(fp, ts, interval '1 hour') AS near_duplicates,
       apivalue.sequence_gap_count(seq) AS gaps,
       apivalue.missing_sequence_ranges(seq) AS missing
  FROM public.upg_events;

CREATE VIEW public.upg_calendar_v AS
SELECT apivalue.period_start(ts, 'week', 'Europe/Berlin', 'en_US') AS week, count(*) AS events
  FROM public.upg_events GROUP BY 1;

-- a user table with a column of an apivalue type, and a view over its rollup
CREATE TABLE public.upg_latency_daily (day date PRIMARY KEY, summary apivalue.latency_summary NOT NULL);
INSERT INTO public.upg_latency_daily
SELECT ts::date, apivalue.latency_summary(latency_ms, status)
  FROM public.upg_events GROUP BY 1;
CREATE VIEW public.upg_latency_v AS
SELECT apivalue.approx_percentiles(apivalue.rollup(summary), '{0.5,0.9,0.99}') AS p,
       apivalue.latency_count(apivalue.rollup(summary)) AS n,
       apivalue.latency_max(apivalue.rollup(summary)) AS max
  FROM public.upg_latency_daily;

-- a SQL-standard body: its dependencies on apivalue functions are recorded
CREATE FUNCTION public.upg_path_of(u text) RETURNS text[]
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT apivalue.journey_path(ts, event) FROM public.upg_events WHERE user_id = u;
END;

-- user rows in the extension's config tables
SELECT apivalue.define_metric('upg_funnel', 'public.upg_funnel_v', 'funnel level per user',
                              'upgrade test', 'users') IS NOT NULL AS defined;
SELECT (apivalue.add_quality_check('upg_dead', 'public.upg_events', 'dead_time',
                                   '{"time_column": "ts", "max_gap": "6 hours"}')).name AS added;
SELECT count(*) AS results FROM apivalue.run_quality_checks('upg_dead');
