-- test/data/report.sql: the demo's value report over sample.events.
--
-- Run by scripts/demo.sh after test/data/sample.sql and sample.generate().
-- One section per capability, each under a "== N. title" heading.  A
-- section marked "(plain SQL)" computes its numbers without apivalue;
-- replace it with the apivalue call once the capability lands (keep the
-- heading, say which function it uses).
\pset footer off
\pset null '-'

\echo
\echo '== 1. Data set'
SELECT count(*) AS events,
       count(DISTINCT user_id) FILTER (WHERE user_id <> 'canary') AS users,
       count(DISTINCT tenant) FILTER (WHERE user_id <> 'canary') AS tenants,
       count(DISTINCT device_id) AS devices,
       min(received_at)::date AS first_day,
       max(received_at)::date AS last_day
FROM sample.events;
SELECT tenant, count(DISTINCT user_id) AS users, count(*) AS events,
       round(100.0 * count(*) FILTER (WHERE plan_tier = 'enterprise') / count(*), 1) AS enterprise_pct
FROM sample.events WHERE user_id <> 'canary'
GROUP BY tenant ORDER BY events DESC;

-- User events without the synthetic canaries, as a relation the table
-- functions can take.
CREATE TEMP VIEW user_events AS SELECT * FROM sample.events WHERE user_id <> 'canary';

\echo
\echo '== 2. Activation funnel within 14 days (apivalue.window_funnel + apivalue.funnel_counts)'
WITH per_user AS (
  SELECT user_id,
         apivalue.window_funnel('14 days', ts,
           event = 'signup', event = 'create_key', event = 'first_call',
           event = 'api_call', event = 'upgrade') AS level
  FROM user_events GROUP BY user_id
), chart AS (
  SELECT apivalue.funnel_counts(level, 5) AS users FROM per_user
)
SELECT k AS step, (ARRAY['signup','create_key','first_call','api_call','upgrade'])[k] AS event,
       users[k] AS users,
       round(100.0 * users[k] / nullif(users[1], 0), 1) AS pct_of_signups,
       round(100.0 * users[k] / nullif(users[k - 1], 0), 1) AS pct_of_previous
FROM chart, generate_series(1, 5) k ORDER BY k;

\echo
\echo '== 2b. Top journeys: first 5 distinct steps per user (apivalue.journey_path)'
SELECT array_to_string(path, ' > ') AS journey, count(*) AS users
FROM (SELECT apivalue.journey_path(ts, event, 5) AS path FROM user_events GROUP BY user_id) p
GROUP BY path ORDER BY users DESC, journey LIMIT 8;

\echo
\echo '== 2c. Where users go after creating a key (apivalue.sequence_next_node) and who makes a first call within 10 minutes of creating a key (apivalue.sequence_match)'
SELECT coalesce(apivalue_next, '(nothing)') AS next_step_after_create_key, count(*) AS users
FROM (SELECT apivalue.sequence_next_node('forward', 'first_match', ts, event, true,
                                         event = 'create_key') AS apivalue_next
      FROM user_events GROUP BY user_id) n
GROUP BY 1 ORDER BY users DESC LIMIT 6;
SELECT count(*) FILTER (WHERE m) AS users_calling_within_10_min_of_key, count(*) AS users
FROM (SELECT apivalue.sequence_match('(?1)(?t<=600)(?2)', ts, event = 'create_key', event = 'first_call') AS m
      FROM user_events GROUP BY user_id) s;

\echo
\echo '== 2d. Time to first value: signup -> first_call, by monthly cohort (apivalue.ttfv_report)'
SELECT cohort_start::date AS cohort, users_started, users_reached,
       round(activation_rate::numeric * 100, 1) AS activation_pct,
       p50, p75, p90
FROM apivalue.ttfv_report('user_events', 'user_id', 'ts',
                          $$event = 'signup'$$, $$event = 'first_call'$$,
                          period => 'month')
ORDER BY cohort_start;

\echo
\echo '== 3. API usage by endpoint, ids normalized (plain SQL)'
SELECT regexp_replace(regexp_replace(endpoint, '/[0-9]+(/|$)', '/{id}\1'), '/[0-9a-f]{10}(/|$)', '/{key}\1') AS endpoint,
       count(*) AS calls,
       count(DISTINCT user_id) AS users,
       round(100.0 * count(*) FILTER (WHERE status >= 500) / count(*), 2) AS server_err_pct,
       round(100.0 * count(*) FILTER (WHERE status BETWEEN 400 AND 499) / count(*), 2) AS client_err_pct,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::numeric, 1) AS p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)::numeric, 1) AS p95_ms
FROM sample.events WHERE endpoint IS NOT NULL
GROUP BY 1 ORDER BY calls DESC LIMIT 12;

\echo
\echo '== 4. Weekly retention of signup cohorts, % making api_calls in week N (apivalue.cohort_retention)'
SELECT cohort_start::date AS cohort_week,
       max(cohort_size) AS users,
       round(100 * max(retention_rate) FILTER (WHERE period_number = 1)::numeric, 1) AS w1,
       round(100 * max(retention_rate) FILTER (WHERE period_number = 2)::numeric, 1) AS w2,
       round(100 * max(retention_rate) FILTER (WHERE period_number = 4)::numeric, 1) AS w4,
       round(100 * max(retention_rate) FILTER (WHERE period_number = 8)::numeric, 1) AS w8
FROM apivalue.cohort_retention('user_events', 'user_id', 'ts',
                               period => 'week', periods => 9,
                               start_condition => $$event = 'signup'$$,
                               return_condition => $$event = 'api_call'$$,
                               since => '2026-01-05', until => '2026-03-30')
GROUP BY cohort_start ORDER BY cohort_start;

\echo
\echo '== 4b. What early API usage goes with upgrading later (apivalue.value_drivers, first 7 days)'
SELECT behavior, users_with, round(outcome_rate_with::numeric, 3) AS upgrade_rate_with,
       round(outcome_rate_without::numeric, 3) AS upgrade_rate_without,
       round(lift_diff::numeric, 3) AS lift, round(q_value::numeric, 4) AS q_value
FROM apivalue.value_drivers('user_events', 'user_id', 'ts', 'event', $$event = 'upgrade'$$,
                            observation => '7 days', min_users => 20)
WHERE NOT flagged_low_count
ORDER BY rank LIMIT 8;

\echo
\echo '== 5. Experiments: conversion within 14 days of first exposure, by variant (plain SQL)'
WITH x AS (
  SELECT user_id, payload->>'experiment' AS experiment, min(ts) AS at,
         min(payload->>'variant') AS variant, count(DISTINCT payload->>'variant') AS variants
  FROM sample.events WHERE event = 'experiment_exposure' GROUP BY 1, 2
), c AS (
  SELECT x.experiment, x.variant, x.user_id,
         bool_or(o.user_id IS NOT NULL) AS converted
  FROM x LEFT JOIN sample.events o
    ON o.user_id = x.user_id
   AND o.event = CASE x.experiment WHEN 'onboarding_v2' THEN 'first_call' ELSE 'upgrade' END
   AND o.ts BETWEEN x.at AND x.at + interval '14 days'
  WHERE x.variants = 1
  GROUP BY 1, 2, 3
)
SELECT experiment, variant, count(*) AS users, count(*) FILTER (WHERE converted) AS converted,
       round(100.0 * count(*) FILTER (WHERE converted) / count(*), 1) AS conversion_pct,
       round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY experiment), 1) AS share_of_users_pct
FROM c GROUP BY 1, 2 ORDER BY 1, 2;

\echo
\echo '== 6. Data quality findings (apivalue detectors) next to the faults injected into the sample'
SELECT 'clock skew: devices off by > 5 min' AS finding, count(*) AS found,
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'clock_skew') AS injected
FROM apivalue.skewed_devices('sample.events', 'device_id', 'ts', 'sent_at', 'received_at', '5 minutes')
UNION ALL
SELECT 'exact duplicates (same event_id)', duplicates,
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'exact_duplicate')
FROM apivalue.duplicate_rate('sample.events', 'event_id', 'received_at')
UNION ALL
SELECT 'devices with sequence gaps', count(*),
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'sequence_gap')
FROM apivalue.device_sequence_gaps('sample.events', 'device_id', 'seq')
UNION ALL
SELECT 'dead periods > 90 min (server clock)', count(*),
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'dead_period')
FROM apivalue.dead_periods('sample.events', 'received_at', '90 minutes');

\echo
\echo '== 7. Quality checks as data: registered once, run on schedule, history kept (apivalue.run_quality_checks)'
\o /dev/null
SELECT apivalue.add_quality_check('events_clock_skew', 'sample.events', 'clock_skew',
         '{"device_column": "device_id", "client_ts_column": "ts", "sent_at_column": "sent_at", "received_at_column": "received_at"}',
         warn_threshold => 0, fail_threshold => 3);
SELECT apivalue.add_quality_check('events_duplicates', 'sample.events', 'exact_duplicate',
         '{"key": "event_id", "time_column": "received_at"}', warn_threshold => 0, fail_threshold => 1000);
SELECT apivalue.add_quality_check('events_sequence_gaps', 'sample.events', 'sequence_gap',
         '{"device_column": "device_id", "seq_column": "seq"}', warn_threshold => 0, fail_threshold => 5000);
SELECT apivalue.add_quality_check('events_dead_time', 'sample.events', 'dead_time',
         '{"time_column": "received_at", "max_gap": "90 minutes"}', warn_threshold => 0, fail_threshold => 3600);
SELECT apivalue.add_quality_check('events_nulls', 'sample.events', 'null_rate',
         '{"columns": ["user_id", "event", "ts"]}', warn_threshold => 0.01, fail_threshold => 0.1);
SELECT count(*) FROM apivalue.run_quality_checks();
\o
SELECT check_name, status, observed, warn_threshold AS warn_at, fail_threshold AS fail_at
FROM apivalue.quality_status ORDER BY check_name;

-- The same story as one self-contained HTML page (inline SVG charts).
\pset format unaligned
\pset tuples_only on
\o :report_file
\i test/layers/charts_report_call.sql
\o
\pset format aligned
\pset tuples_only off
