-- The answers of the user objects of test/upgrade/user_objects.sql (and their
-- definitions), printed in a fixed order; test/layers/upgrade.sh runs this
-- before and after ALTER EXTENSION apivalue UPDATE and after refreshing the
-- materialized views, and requires identical output.  Reads only; stable.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET timezone = 'UTC';
SET extra_float_digits = 3;
\pset format unaligned
\pset null '<null>'

\echo == user relations, functions and their definitions
SELECT c.relname, c.relkind, pg_get_viewdef(c.oid) AS definition
  FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relname LIKE 'upg\_%' AND c.relkind IN ('r', 'v', 'm')
 ORDER BY c.relname COLLATE "C";
SELECT pg_get_functiondef('public.upg_path_of(text)'::regprocedure);
\echo == upg_funnel_v
SELECT * FROM public.upg_funnel_v ORDER BY user_id;
\echo == upg_funnel_counts_mv (stored)
SELECT * FROM public.upg_funnel_counts_mv;
\echo == upg_retention_v
SELECT * FROM public.upg_retention_v ORDER BY user_id;
\echo == upg_journey_v
SELECT * FROM public.upg_journey_v ORDER BY user_id;
\echo == upg_cohort_mv (stored)
SELECT * FROM public.upg_cohort_mv ORDER BY 1, 2, 3, 4;
\echo == upg_ttfv_v
SELECT * FROM public.upg_ttfv_v ORDER BY user_id;
\echo == upg_km_v
SELECT * FROM public.upg_km_v;
\echo == upg_quality_v
SELECT * FROM public.upg_quality_v;
\echo == upg_calendar_v
SELECT * FROM public.upg_calendar_v ORDER BY week;
\echo == upg_latency_daily (stored latency_summary values, read through the output function)
SELECT day, summary::text, apivalue.latency_count(summary), apivalue.latency_min(summary)
  FROM public.upg_latency_daily ORDER BY day;
\echo == upg_latency_v
SELECT * FROM public.upg_latency_v;
\echo == upg_path_of
SELECT public.upg_path_of('u07'), public.upg_path_of('u42');
\echo == user rows in the config tables of the extension
SELECT name, version, definition, description, owner, unit, definition_sql, defined_at
  FROM apivalue.metrics ORDER BY name;
SELECT name, version FROM apivalue.metric_catalog ORDER BY name;
SELECT name, relation, kind, parameters, warn_threshold, fail_threshold, enabled, created_at
  FROM apivalue.quality_checks ORDER BY name;
SELECT run_id, check_name, run_at, status, observed, details
  FROM apivalue.quality_results ORDER BY run_id, check_name;
