-- value_drivers, driver_features and behavior_counts against plain-SQL
-- references on random data (deterministic seed), for each option alone and
-- in combination; rows stored in random order so that parallel workers see
-- parts of the same user (combine and serialize run in the parallel pass).
--
-- Windows are fixed lengths: '7 days' is 168 hours even across the DST
-- change of 2024-03-10 in the regression time zone (PST8PDT), so the
-- references add hours, never days.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

SELECT setseed(0.31);
CREATE TABLE drv_ref_events (user_id int, ts timestamptz, endpoint text, status int, latency_ms double precision);
-- (generated first, shuffled second: with ORDER BY random() in the same
-- SELECT the planner would reuse the sort key for every random() call)
CREATE TEMP TABLE drv_ref_gen AS
SELECT u AS user_id,
       timestamptz '2024-03-01 00:00+00' + (u % 20) * interval '1 day'
         + (CASE WHEN random() < 0.6 THEN random() * 8 ELSE random() * 30 END) * interval '1 day' AS ts,
       CASE WHEN random() < 0.05 THEN NULL
            ELSE (ARRAY['GET /a', 'GET /b', 'POST /c', 'GET /d', 'PUT /e', 'upgrade', 'GET /f'])[1 + floor(random() * 7)::int] END AS endpoint,
       (ARRAY[200, 200, 200, 201, 404, 500, 503])[1 + floor(random() * 7)::int] AS status,
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 1000)::numeric, 1)::float8 END AS latency_ms
  FROM generate_series(1, 500) u, generate_series(1, 16) k
 WHERE random() < 0.8;
INSERT INTO drv_ref_events SELECT * FROM drv_ref_gen ORDER BY random();
-- rows to skip: NULL user, NULL time
INSERT INTO drv_ref_events VALUES (NULL, '2024-03-02', 'GET /a', 200, 10), (3, NULL, 'GET /a', 200, 10);
-- exact boundaries for user 1001: first event, an event exactly at +168 h
-- (outside the window), the outcome exactly at +168 h (counts)
INSERT INTO drv_ref_events VALUES
  (1001, '2024-03-05 12:00+00', 'GET /a', 200, 5),
  (1001, '2024-03-12 12:00+00', 'GET /b', 500, 5000),
  (1001, '2024-03-12 12:00+00', 'upgrade', 200, 5);
ANALYZE drv_ref_events;

-- Per-user features in plain SQL.
CREATE FUNCTION pg_temp.ref_features(obs_h int, min_times int, ow_h int, early boolean,
                                     as_of timestamptz, err_k int, lat_thr float8)
RETURNS TABLE (user_id int, behaviors text[], server_errors boolean, slow boolean, outcome boolean)
LANGUAGE sql AS $$
  WITH ev AS (
    SELECT * FROM drv_ref_events
     WHERE user_id IS NOT NULL AND ts IS NOT NULL AND (as_of IS NULL OR ts < as_of)
  ), fu AS (
    SELECT e.user_id, min(e.ts) AS f, min(e.ts) + obs_h * interval '1 hour' AS w_end
      FROM ev e GROUP BY e.user_id
  ), win AS (
    SELECT e.* FROM ev e JOIN fu USING (user_id) WHERE e.ts < fu.w_end
  )
  SELECT fu.user_id,
         coalesce((SELECT array_agg(b ORDER BY b::bytea)
                     FROM (SELECT w.endpoint AS b FROM win w
                            WHERE w.user_id = fu.user_id AND w.endpoint IS NOT NULL
                            GROUP BY w.endpoint HAVING count(*) >= min_times) x), '{}'),
         CASE WHEN err_k IS NOT NULL THEN
           (SELECT count(*) >= err_k FROM win w WHERE w.user_id = fu.user_id AND w.status BETWEEN 500 AND 599) END,
         CASE WHEN lat_thr IS NOT NULL THEN
           coalesce((SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY w.latency_ms) > lat_thr
                       FROM win w WHERE w.user_id = fu.user_id AND w.latency_ms IS NOT NULL), false) END,
         EXISTS (SELECT 1 FROM ev e WHERE e.user_id = fu.user_id AND e.endpoint = 'upgrade'
                   AND e.ts >= fu.w_end
                   AND (ow_h IS NULL OR e.ts < fu.w_end + ow_h * interval '1 hour'))
    FROM fu
   WHERE (as_of IS NULL OR fu.w_end + coalesce(ow_h, 0) * interval '1 hour' <= as_of)
     AND NOT (early AND EXISTS (SELECT 1 FROM ev e WHERE e.user_id = fu.user_id
                                  AND e.endpoint = 'upgrade' AND e.ts < fu.w_end))
$$;

-- The 2x2 counts per behaviour, from the per-user features.
CREATE FUNCTION pg_temp.ref_counts(obs_h int, min_times int, ow_h int, early boolean,
                                   as_of timestamptz, err_k int, lat_thr float8)
RETURNS TABLE (k text, v text) LANGUAGE sql AS $$
  WITH f AS (SELECT * FROM pg_temp.ref_features(obs_h, min_times, ow_h, early, as_of, err_k, lat_thr)),
  t AS (SELECT count(*) AS n, count(*) FILTER (WHERE outcome) AS o FROM f),
  c AS (
    SELECT 'behavior' AS kind, b AS behavior, count(*) AS n_with, count(*) FILTER (WHERE outcome) AS k_with
      FROM f, unnest(f.behaviors) b GROUP BY b
    UNION ALL
    SELECT 'errors', format('saw >= %s 5xx', err_k), count(*) FILTER (WHERE server_errors),
           count(*) FILTER (WHERE server_errors AND outcome) FROM f HAVING err_k IS NOT NULL
    UNION ALL
    SELECT 'latency', format('p95 latency > %s ms', lat_thr), count(*) FILTER (WHERE slow),
           count(*) FILTER (WHERE slow AND outcome) FROM f HAVING lat_thr IS NOT NULL
  )
  SELECT c.kind || ':' || c.behavior, concat_ws('/', c.n_with, t.n - c.n_with, c.k_with, t.o - c.k_with)
    FROM c, t
$$;

CREATE FUNCTION pg_temp.got_counts(obs_h int, min_times int, ow_h int, early boolean,
                                   as_of timestamptz, err_k int, lat_thr float8)
RETURNS TABLE (k text, v text) LANGUAGE sql AS $$
  SELECT d.kind || ':' || d.behavior,
         concat_ws('/', d.users_with, d.users_without, d.outcomes_with, d.outcomes_without)
    FROM apivalue.value_drivers('drv_ref_events', 'user_id', 'ts', 'endpoint', $c$endpoint = 'upgrade'$c$,
                                observation => obs_h * interval '1 hour', min_times => min_times,
                                min_users => 5, outcome_window => ow_h * interval '1 hour',
                                exclude_early_outcome => early, as_of => as_of,
                                status_column => CASE WHEN err_k IS NOT NULL THEN 'status' END,
                                error_threshold => err_k,
                                latency_column => CASE WHEN lat_thr IS NOT NULL THEN 'latency_ms' END,
                                latency_threshold_ms => lat_thr) d
$$;

CREATE TABLE drv_ref_configs (id int, obs_h int, min_times int, ow_h int, early boolean,
                              as_of timestamptz, err_k int, lat_thr float8);
INSERT INTO drv_ref_configs VALUES
  (1, 168, 1, NULL, false, NULL, NULL, NULL),                      -- defaults
  (2, 72, 1, NULL, false, NULL, NULL, NULL),                       -- shorter window
  (3, 168, 3, NULL, false, NULL, NULL, NULL),                      -- min_times
  (4, 168, 1, 240, false, NULL, NULL, NULL),                       -- outcome window
  (5, 168, 1, NULL, true, NULL, NULL, NULL),                       -- early outcomes excluded
  (6, 168, 1, NULL, false, '2024-03-25 00:00+00', NULL, NULL),     -- as_of
  (7, 168, 1, NULL, false, NULL, 2, NULL),                         -- error signal
  (8, 168, 1, NULL, false, NULL, NULL, 900),                       -- latency signal
  (9, 120, 2, 96, true, '2024-03-28 00:00+00', 1, 750),            -- all together
  (10, 168, 2, 48, false, NULL, 3, 500);

SELECT c.id, d.compared, d.mismatches, d.first_mismatch
  FROM drv_ref_configs c,
       LATERAL avtest.diff(
         format('SELECT * FROM pg_temp.got_counts(%s, %s, %s, %L, %L, %s, %s)',
                c.obs_h, c.min_times, coalesce(c.ow_h::text, 'NULL'), c.early, c.as_of,
                coalesce(c.err_k::text, 'NULL'), coalesce(c.lat_thr::text, 'NULL')),
         format('SELECT * FROM pg_temp.ref_counts(%s, %s, %s, %L, %L, %s, %s)',
                c.obs_h, c.min_times, coalesce(c.ow_h::text, 'NULL'), c.early, c.as_of,
                coalesce(c.err_k::text, 'NULL'), coalesce(c.lat_thr::text, 'NULL'))) d
 ORDER BY c.id;

-- The aggregates per user, against the same reference (config 9).
SELECT * FROM avtest.diff(
  $$ SELECT user_id::text AS k, s::text AS v
       FROM (SELECT user_id, apivalue.driver_features(ts, endpoint, endpoint = 'upgrade', status BETWEEN 500 AND 599,
                                                      latency_ms, '120 hours', '96 hours', 2, 1, 750, true,
                                                      '2024-03-28 00:00+00') AS s
               FROM drv_ref_events WHERE user_id IS NOT NULL GROUP BY user_id) a
      WHERE s IS NOT NULL $$,
  $$ SELECT user_id::text AS k, ROW(behaviors, server_errors, slow, outcome)::apivalue.driver_features_result::text AS v
       FROM pg_temp.ref_features(120, 2, 96, true, '2024-03-28 00:00+00', 1, 750) $$);

SELECT * FROM avtest.diff(
  $$ SELECT user_id::text AS k, apivalue.behavior_counts(ts, endpoint, '7 days')::text AS v
       FROM drv_ref_events WHERE user_id IS NOT NULL GROUP BY user_id $$,
  $$ WITH fu AS (SELECT user_id, min(ts) AS f FROM drv_ref_events WHERE ts IS NOT NULL GROUP BY user_id)
     SELECT fu.user_id::text AS k,
            coalesce((SELECT jsonb_object_agg(endpoint, n)
                        FROM (SELECT e.endpoint, count(*) AS n FROM drv_ref_events e
                               WHERE e.user_id = fu.user_id AND e.endpoint IS NOT NULL
                                 AND e.ts >= fu.f AND e.ts < fu.f + interval '168 hours'
                               GROUP BY e.endpoint) x), '{}')::text AS v
       FROM fu WHERE fu.user_id IS NOT NULL $$);

-- The boundary user: GET /b at exactly +168 h is outside, the upgrade at
-- exactly +168 h is the outcome.
SELECT apivalue.behavior_counts(ts, endpoint, '7 days') AS counts,
       apivalue.driver_features(ts, endpoint, endpoint = 'upgrade', status >= 500, latency_ms,
                                '7 days', NULL, 1, 1, 100, false, NULL) AS features
  FROM drv_ref_events WHERE user_id = 1001;

-- The statistics columns follow from the counts: test choice (Fisher when
-- an expected cell is below 5), p-value, phi, Newcombe interval, BH q-value
-- over the behaviours of the call, rank by |phi| among unflagged rows.
CREATE TABLE drv_ref_got AS
SELECT * FROM apivalue.value_drivers('drv_ref_events', 'user_id', 'ts', 'endpoint', $$endpoint = 'upgrade'$$,
                                     min_times => 2, min_users => 100, status_column => 'status',
                                     error_threshold => 2, latency_column => 'latency_ms',
                                     latency_threshold_ms => 999);
SELECT * FROM avtest.diff(
  $$ SELECT kind || ':' || behavior AS k,
            concat_ws(' ', test, round(p_value::numeric, 12), round(phi::numeric, 12), round(q_value::numeric, 12),
                      round(diff_ci_low::numeric, 12), round(diff_ci_high::numeric, 12),
                      round(lift_diff::numeric, 12), round(lift_ratio::numeric, 12),
                      flagged_low_count, rank) AS v
       FROM drv_ref_got $$,
  $$ WITH c AS (
       SELECT kind, behavior, users_with AS n1, users_without AS n2, outcomes_with AS x1, outcomes_without AS x2
         FROM drv_ref_got
     ), t AS (
       SELECT c.*, least(n1, n2)::float8 * least(x1 + x2, n1 + n2 - x1 - x2) / (n1 + n2) AS min_expected,
              tp.*
         FROM c, LATERAL apivalue.two_proportion_test(x1, n1, x2, n2) tp
     ), s AS (
       SELECT t.*, CASE WHEN n1 = 0 OR n2 = 0 THEN NULL WHEN min_expected < 5 THEN 'fisher' ELSE 'z' END AS test,
              CASE WHEN n1 = 0 OR n2 = 0 THEN NULL WHEN min_expected < 5
                   THEN apivalue.fisher_exact_p(x1, n1 - x1, x2, n2 - x2) ELSE t.p_value END AS p,
              (n1 < 100 OR n2 < 100) AS flagged
         FROM t
     ), q AS (
       SELECT s.*, count(p) OVER () AS m, row_number() OVER (ORDER BY p, kind, behavior) AS rk FROM s
     ), q2 AS (
       SELECT q.*, CASE WHEN p IS NOT NULL THEN least(1, min(m * p / rk) OVER (ORDER BY p DESC NULLS FIRST, kind DESC, behavior DESC
                                                                  ROWS UNBOUNDED PRECEDING)) END AS qv
         FROM q
     )
     SELECT kind || ':' || behavior AS k,
            concat_ws(' ', test, round(p::numeric, 12), round(phi::numeric, 12), round(qv::numeric, 12),
                      round(ci_low::numeric, 12), round(ci_high::numeric, 12), round(diff::numeric, 12),
                      round((rate1 / nullif(rate2, 0))::numeric, 12), flagged,
                      CASE WHEN NOT flagged AND p IS NOT NULL THEN
                        (SELECT count(*) FROM q2 o WHERE NOT o.flagged AND o.p IS NOT NULL
                            AND (abs(o.phi) > abs(q2.phi)
                                 OR (abs(o.phi) = abs(q2.phi)
                                     AND (o.p < q2.p OR (o.p = q2.p AND (o.kind, o.behavior) < (q2.kind, q2.behavior)))))) + 1 END) AS v
       FROM q2 $$);
SELECT kind, behavior, users_with, users_without, test, flagged_low_count, rank
  FROM drv_ref_got ORDER BY rank NULLS LAST, kind, behavior;

-- timestamp without time zone gives the same answer (fixed windows; with
-- the session in UTC, as_of means the same instant for both columns).
SET TimeZone = 'UTC';
CREATE TABLE drv_ref_events_ts AS
SELECT user_id, ts::timestamp AS ts, endpoint, status, latency_ms FROM drv_ref_events;
SELECT * FROM avtest.diff(
  $$ SELECT kind || ':' || behavior AS k, concat_ws('/', users_with, users_without, outcomes_with, outcomes_without) AS v
       FROM apivalue.value_drivers('drv_ref_events_ts', 'user_id', 'ts', 'endpoint', 'endpoint = ''upgrade''',
                                   as_of => '2024-03-28 00:00+00', min_users => 5) $$,
  $$ SELECT kind || ':' || behavior AS k, concat_ws('/', users_with, users_without, outcomes_with, outcomes_without) AS v
       FROM apivalue.value_drivers('drv_ref_events', 'user_id', 'ts', 'endpoint', 'endpoint = ''upgrade''',
                                   as_of => '2024-03-28 00:00+00', min_users => 5) $$);
RESET TimeZone;

DROP TABLE drv_ref_events, drv_ref_events_ts, drv_ref_configs, drv_ref_got;
