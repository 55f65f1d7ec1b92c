-- value_drivers semantics on hand-made users, each answer worked out in the
-- comments.  Window: [first event, first event + observation); outcome: an
-- outcome event at or after the window end (before end + outcome_window
-- when given).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET TimeZone = 'UTC';

CREATE TABLE drv_sem (user_id text, ts timestamptz, endpoint text, status int, latency_ms float8);
INSERT INTO drv_sem VALUES
  -- u1: GET /a twice and GET /b inside the window; GET /c exactly at
  -- first + 7 days is outside; the upgrade exactly then is the outcome.
  ('u1', '2024-01-01 00:00', 'GET /a', 200, 10),
  ('u1', '2024-01-03 00:00', 'GET /a', 200, 10),
  ('u1', '2024-01-07 23:59:59.999999', 'GET /b', 200, 10),
  ('u1', '2024-01-08 00:00', 'GET /c', 200, 10),
  ('u1', '2024-01-08 00:00', 'upgrade', 200, 10),
  -- u2: upgraded inside the window only: no outcome; excluded with
  -- exclude_early_outcome.
  ('u2', '2024-01-01 00:00', 'GET /b', 200, 10),
  ('u2', '2024-01-03 00:00', 'upgrade', 200, 10),
  -- u3: GET /a three times; upgrade on Jan 20: an outcome, but not within
  -- an outcome window of 7 days ([Jan 8, Jan 15)).
  ('u3', '2024-01-01 00:00', 'GET /a', 200, 10),
  ('u3', '2024-01-02 00:00', 'GET /a', 200, 10),
  ('u3', '2024-01-03 00:00', 'GET /a', 200, 10),
  ('u3', '2024-01-20 00:00', 'upgrade', 200, 10),
  -- u4: first event Jan 10; as_of Jan 16 cuts its window (ends Jan 17).
  ('u4', '2024-01-10 00:00', 'GET /a', 200, 10),
  -- u5: the first event has no endpoint but still starts the window, so
  -- GET /a on Jan 9 is outside it.
  ('u5', '2024-01-01 00:00', NULL, 200, NULL),
  ('u5', '2024-01-09 00:00', 'GET /a', 200, 10),
  -- rows that do not count: no user, no time
  (NULL, '2024-01-01 00:00', 'GET /z', 200, 10),
  ('u1', NULL, 'GET /z', 200, 10);
-- u6: three 503s in the window, latencies 10, 20, ..., 200 ms.  p95 as
-- percentile_disc: the ceil(0.95 * 20) = 19th value, 190 ms.
INSERT INTO drv_sem
SELECT 'u6', timestamptz '2024-01-01' + i * interval '1 hour', 'GET /slow',
       CASE WHEN i <= 3 THEN 503 ELSE 200 END, 10 * i
  FROM generate_series(1, 20) i;

CREATE FUNCTION pg_temp.features(obs interval, ow interval, min_times int, early boolean,
                                 as_of timestamptz, err_k int, lat float8)
RETURNS TABLE (user_id text, f apivalue.driver_features_result) LANGUAGE sql AS $$
  SELECT user_id, apivalue.driver_features(ts, endpoint, endpoint = 'upgrade', status BETWEEN 500 AND 599,
                                           latency_ms, obs, ow, min_times, err_k, lat, early, as_of)
    FROM drv_sem WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY user_id
$$;

-- Defaults: u1 {GET /a, GET /b} + outcome; u2 {GET /b}, no outcome (early
-- only); u3 {GET /a} + outcome; u4 {GET /a}; u5 {}; u6 {GET /slow};
-- signals off -> NULL.
SELECT * FROM pg_temp.features('7 days', NULL, 1, false, NULL, NULL, NULL);
-- min_times 2: GET /b (once) drops out for u1 and u2, u4 and u6 keep
-- theirs only if done twice (u6 called GET /slow 20 times).
SELECT * FROM pg_temp.features('7 days', NULL, 2, false, NULL, NULL, NULL);
-- outcome window 7 days: u3's Jan 20 upgrade is too late; u1's at exactly
-- the window end still counts.
SELECT * FROM pg_temp.features('7 days', '7 days', 1, false, NULL, NULL, NULL);
-- exclude early outcomes: u2 is left out (NULL).  as_of Jan 16: u4 is left
-- out (its window ends Jan 17), everyone else is complete; rows at or after
-- as_of do not exist for the analysis, so u3's Jan 20 upgrade is not seen.
SELECT * FROM pg_temp.features('7 days', NULL, 1, true, '2024-01-16', NULL, NULL);
-- as_of with an outcome window: the outcome window must be complete too
-- (ends Jan 15 00:00 for users who started Jan 1 00:00): as_of Jan 14 leaves
-- everybody out, Jan 15 keeps u1, u2, u3, u5 (u6 started at 01:00, u4 on
-- Jan 10).
SELECT count(*) FILTER (WHERE (f).outcome IS NOT NULL) AS counted_jan14 FROM pg_temp.features('7 days', '7 days', 1, false, '2024-01-14', NULL, NULL);
SELECT string_agg(user_id, ',' ORDER BY user_id) FILTER (WHERE (f).outcome IS NOT NULL) AS counted_jan15
  FROM pg_temp.features('7 days', '7 days', 1, false, '2024-01-15', NULL, NULL);
-- Signals: u6 saw 3 server errors (>= 2: yes, >= 4: no); its p95 is 190 ms,
-- above 189.9, not above 190.  Users without latencies in the window (u5
-- has one latency, but outside the window) are not slow.
SELECT user_id, (f).server_errors AS errors_ge_2, (f).slow AS p95_above_189_9
  FROM pg_temp.features('7 days', NULL, 1, false, NULL, 2, 189.9);
SELECT user_id, (f).server_errors AS errors_ge_4, (f).slow AS p95_above_190
  FROM pg_temp.features('7 days', NULL, 1, false, NULL, 4, 190) WHERE user_id = 'u6';
-- the latency signal agrees with percentile_disc itself
SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_u6 FROM drv_sem WHERE user_id = 'u6';

-- The BI aggregate: counts within the window.
SELECT user_id, apivalue.behavior_counts(ts, endpoint, '7 days')
  FROM drv_sem WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY user_id;
SELECT apivalue.behavior_counts(ts, endpoint, '1 day') AS u1_first_day
  FROM drv_sem WHERE user_id = 'u1';
SELECT apivalue.behavior_counts(ts, endpoint, '7 days') AS no_rows FROM drv_sem WHERE false;

-- value_drivers over these six users (min_users 1): 2 of 6 converted
-- (u1, u3).  GET /a: u1, u3, u4 did it, 2 of 3 converted vs 0 of 3.
-- GET /b: u1, u2 -> 1 of 2 vs 1 of 4.  GET /slow: u6 -> 0 of 1 vs 2 of 5;
-- upgrade (u2, inside its window) -> 0 of 1 vs 2 of 5.
-- Expected cells are tiny, so every p-value is Fisher's:
--   GET /a: table [[2,1],[0,3]]: P(x) = 3/15, 9/15, 3/15 for x = 0, 1, 2,
--   observed x = 2 -> p = 6/15 = 0.4;  GET /b: [[1,1],[1,3]] is the most
--   likely table -> p = 1;  GET /slow, upgrade: [[0,1],[2,3]] -> p = 1.
-- q-values: m = 4, sorted 0.4, 1, 1, 1 -> q = min(4 * 0.4 / 1, 1) = 1 for all.
SELECT behavior, users_with, users_without, outcomes_with, outcomes_without,
       round(outcome_rate_with::numeric, 4) AS rate_with, round(outcome_rate_without::numeric, 4) AS rate_without,
       round(lift_diff::numeric, 4) AS diff, round(lift_ratio::numeric, 4) AS ratio, test,
       round(p_value::numeric, 6) AS p, round(phi::numeric, 4) AS phi, round(q_value::numeric, 6) AS q,
       round(diff_ci_low::numeric, 4) AS ci_low, round(diff_ci_high::numeric, 4) AS ci_high,
       flagged_low_count, rank
  FROM apivalue.value_drivers('drv_sem', 'user_id', 'ts', 'endpoint', $$endpoint = 'upgrade'$$, min_users => 1);
-- ... with min_users 3 only GET /a is ranked; the others are flagged.
SELECT behavior, flagged_low_count, rank
  FROM apivalue.value_drivers('drv_sem', 'user_id', 'ts', 'endpoint', $$endpoint = 'upgrade'$$, min_users => 3);
-- Nobody converts: every rate difference is 0 and no statistic exists: p = 1,
-- phi NULL, q = 1, intervals still reported.
SELECT behavior, outcomes_with, outcomes_without, test, p_value, phi, q_value,
       round(diff_ci_low::numeric, 4) AS ci_low, round(diff_ci_high::numeric, 4) AS ci_high, lift_ratio
  FROM apivalue.value_drivers('drv_sem', 'user_id', 'ts', 'endpoint', $$endpoint = 'never'$$, min_users => 1)
 ORDER BY behavior;
-- An empty table: no behaviours; an experience signal still gets its row,
-- flagged, with no statistics.
CREATE TABLE drv_sem_empty (LIKE drv_sem);
SELECT behavior, kind, users_with, users_without, p_value, flagged_low_count, rank
  FROM apivalue.value_drivers('drv_sem_empty', 'user_id', 'ts', 'endpoint', $$endpoint = 'upgrade'$$,
                              status_column => 'status');
-- Interval latencies and text status codes are accepted.
CREATE TABLE drv_sem_typed AS
SELECT user_id, ts, endpoint, status::text AS status, latency_ms * interval '1 millisecond' AS latency
  FROM drv_sem;
SELECT behavior, kind, users_with, users_without
  FROM apivalue.value_drivers('drv_sem_typed', 'user_id', 'ts', 'endpoint', $$endpoint = 'upgrade'$$,
                              min_users => 1, status_column => 'status', error_threshold => 3,
                              latency_column => 'latency', latency_threshold_ms => 189.9)
 WHERE kind <> 'behavior' ORDER BY kind;

DROP TABLE drv_sem, drv_sem_empty, drv_sem_typed;
RESET TimeZone;
