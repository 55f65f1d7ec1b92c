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

\echo
\echo '== 2. Activation funnel: signup -> create_key -> first_call -> api_call -> upgrade, within 14 days (plain SQL)'
WITH u AS (
  SELECT user_id,
         min(ts) FILTER (WHERE event = 'signup') AS s1,
         min(ts) FILTER (WHERE event = 'create_key') AS s2,
         min(ts) FILTER (WHERE event = 'first_call') AS s3,
         min(ts) FILTER (WHERE event = 'api_call') AS s4,
         min(ts) FILTER (WHERE event = 'upgrade') AS s5
  FROM sample.events WHERE user_id <> 'canary' GROUP BY user_id
), r AS (
  SELECT s1 IS NOT NULL AS r1,
         s2 > s1 AND s2 <= s1 + interval '14 days' AS r2,
         s3 > s2 AND s3 <= s1 + interval '14 days' AS r3,
         s4 > s3 AND s4 <= s1 + interval '14 days' AS r4,
         s5 > s4 AND s5 <= s1 + interval '14 days' AS r5
  FROM u
), steps AS (
  SELECT 1 AS step, 'signup' AS event, count(*) FILTER (WHERE r1) AS users FROM r
  UNION ALL SELECT 2, 'create_key', count(*) FILTER (WHERE r1 AND r2) FROM r
  UNION ALL SELECT 3, 'first_call', count(*) FILTER (WHERE r1 AND r2 AND r3) FROM r
  UNION ALL SELECT 4, 'api_call', count(*) FILTER (WHERE r1 AND r2 AND r3 AND r4) FROM r
  UNION ALL SELECT 5, 'upgrade', count(*) FILTER (WHERE r1 AND r2 AND r3 AND r4 AND r5) FROM r
)
SELECT step, event, users,
       round(100.0 * users / first_value(users) OVER (ORDER BY step), 1) AS pct_of_signups,
       round(100.0 * users / lag(users) OVER (ORDER BY step), 1) AS pct_of_previous
FROM steps ORDER BY step;

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
\echo '== 4. Weekly retention of signup cohorts: % active (api_call) in week N after signup; - = not observable yet (plain SQL)'
WITH c AS (
  SELECT user_id, min(ts) AS signup FROM sample.events WHERE event = 'signup' GROUP BY user_id
), a AS (
  SELECT DISTINCT c.user_id, date_trunc('week', c.signup) AS cohort,
         floor(extract(epoch FROM e.ts - c.signup) / (7 * 86400))::int AS week
  FROM c JOIN sample.events e ON e.user_id = c.user_id AND e.event = 'api_call' AND e.ts >= c.signup
), s AS (
  SELECT date_trunc('week', signup) AS cohort, count(*) AS users, max(signup) AS last_signup
  FROM c GROUP BY 1
), lim AS (
  -- clocks of skewed devices put a few signups outside the observed range
  SELECT min(received_at) AS first_at, max(received_at) AS last_at FROM sample.events
)
SELECT s.cohort::date AS cohort_week, s.users,
       round(100.0 * count(*) FILTER (WHERE week = 0) / s.users, 1) AS w0,
       CASE WHEN s.last_signup + interval '2 weeks' <= lim.last_at
            THEN round(100.0 * count(*) FILTER (WHERE week = 1) / s.users, 1) END AS w1,
       CASE WHEN s.last_signup + interval '3 weeks' <= lim.last_at
            THEN round(100.0 * count(*) FILTER (WHERE week = 2) / s.users, 1) END AS w2,
       CASE WHEN s.last_signup + interval '5 weeks' <= lim.last_at
            THEN round(100.0 * count(*) FILTER (WHERE week = 4) / s.users, 1) END AS w4,
       CASE WHEN s.last_signup + interval '9 weeks' <= lim.last_at
            THEN round(100.0 * count(*) FILTER (WHERE week = 8) / s.users, 1) END AS w8
FROM s CROSS JOIN lim LEFT JOIN a ON a.cohort = s.cohort
WHERE s.cohort >= date_trunc('week', lim.first_at) AND s.last_signup + interval '1 week' <= lim.last_at
GROUP BY s.cohort, s.users, s.last_signup, lim.last_at ORDER BY s.cohort;

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
\echo '== 6. Injected faults the quality checks must find (sample.ground_truth)'
SELECT fault, count(*) AS keys,
       CASE WHEN count(*) = 1 THEN min(key) ELSE min(key) || ' ...' END AS example_key
FROM sample.ground_truth GROUP BY fault ORDER BY fault;
