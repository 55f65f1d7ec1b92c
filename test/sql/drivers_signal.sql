-- value_drivers finds planted drivers and leaves neutral behaviours alone.
--
-- Generated data (deterministic seed), 3000 users, first event spread over
-- January 2024.  In the first 7 days a user:
--   * calls GET /status (everyone; 503 responses for "error" users),
--   * calls each of six neutral endpoints with probability 0.45,
--   * calls POST /webhooks with probability 0.3 (the true positive driver),
--   * hits 2-3 server errors with probability 0.25 (the true negative driver),
--   * sees slow responses (900+ ms) with probability 0.3 (neutral).
-- Later (days 9-28) users keep calling random endpoints, POST /webhooks
-- included, which must not count as early behaviour.  The upgrade comes on
-- day 9-28 with probability 0.18 + 0.22 (webhooks) - 0.12 (errors).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

SELECT setseed(0.17);
CREATE TABLE drv_sig_users AS
SELECT u,
       timestamptz '2024-01-01 00:00+00' + random() * interval '30 days' AS t0,
       random() < 0.3 AS webhooks,
       random() < 0.25 AS errors,
       random() < 0.3 AS slow,
       random() AS r_upgrade
  FROM generate_series(1, 3000) u;

CREATE TABLE drv_sig_events (user_id bigint, ts timestamptz, endpoint text, status int, latency_ms double precision);

-- one call: latency depends on the user's "slow" trait only
CREATE FUNCTION pg_temp.lat(slow boolean) RETURNS double precision LANGUAGE sql AS
$$ SELECT CASE WHEN slow THEN 900 + random() * 600 ELSE 40 + random() * 200 END $$;

INSERT INTO drv_sig_events
SELECT u, t0, 'GET /status', 200, pg_temp.lat(slow) FROM drv_sig_users;
INSERT INTO drv_sig_events
SELECT u, t0 + (1 + random() * 5) * interval '1 day', 'GET /status', 503, pg_temp.lat(slow)
  FROM drv_sig_users, generate_series(1, 3) k
 WHERE errors AND (k < 3 OR random() < 0.5);
INSERT INTO drv_sig_events
SELECT u, t0 + random() * interval '6 days', e, 200, pg_temp.lat(slow)
  FROM drv_sig_users,
       unnest('{GET /items,GET /search,POST /export,GET /profile,GET /usage,DELETE /items}'::text[]) e,
       -- (u and e make the call count lateral, so it is drawn per user and endpoint)
       LATERAL generate_series(1, CASE WHEN random() < 0.45 AND u > 0 AND e <> ''
                                       THEN 1 + floor(random() * 3)::int ELSE 0 END) k;
INSERT INTO drv_sig_events
SELECT u, t0 + random() * interval '6 days', 'POST /webhooks', 200, pg_temp.lat(slow)
  FROM drv_sig_users, generate_series(1, 2) k
 WHERE webhooks;
INSERT INTO drv_sig_events
SELECT u, t0 + (9 + random() * 19) * interval '1 day',
       (ARRAY['GET /items', 'GET /search', 'POST /webhooks', 'GET /usage'])[1 + (random() * 3)::int],
       200, pg_temp.lat(slow)
  FROM drv_sig_users, generate_series(1, 4)
 WHERE random() < 0.6;
INSERT INTO drv_sig_events
SELECT u, t0 + (9 + random() * 19) * interval '1 day', 'POST /upgrade', 200, pg_temp.lat(slow)
  FROM drv_sig_users
 WHERE r_upgrade < 0.18 + CASE WHEN webhooks THEN 0.22 ELSE 0 END - CASE WHEN errors THEN 0.12 ELSE 0 END;

SELECT count(*) AS events, count(DISTINCT user_id) AS users FROM drv_sig_events;

CREATE TABLE drv_sig_result AS
SELECT * FROM apivalue.value_drivers('drv_sig_events', 'user_id', 'ts', 'endpoint',
                                     $$endpoint = 'POST /upgrade'$$,
                                     status_column => 'status', latency_column => 'latency_ms',
                                     latency_threshold_ms => 800, error_threshold => 2);

SELECT rank, kind, behavior, users_with, users_without,
       round(outcome_rate_with::numeric, 3) AS rate_with,
       round(outcome_rate_without::numeric, 3) AS rate_without,
       round(lift_diff::numeric, 3) AS lift_diff, test,
       CASE WHEN p_value < 1e-6 THEN '< 1e-6' ELSE round(p_value::numeric, 3)::text END AS p,
       CASE WHEN q_value < 1e-6 THEN '< 1e-6' ELSE round(q_value::numeric, 3)::text END AS q,
       round(phi::numeric, 3) AS phi,
       round(diff_ci_low::numeric, 3) AS ci_low, round(diff_ci_high::numeric, 3) AS ci_high,
       flagged_low_count
  FROM drv_sig_result
 ORDER BY rank NULLS LAST, kind, behavior;

-- The two real drivers rank first, with the right sign, significant after
-- the false-discovery correction, their intervals excluding 0 ...
SELECT behavior, rank, lift_diff > 0 AS raises_upgrades, q_value < 0.001 AS significant,
       (diff_ci_low > 0 OR diff_ci_high < 0) AS interval_excludes_zero
  FROM drv_sig_result WHERE rank <= 2 ORDER BY rank;
-- ... and no neutral behaviour or experience is significant.
SELECT count(*) AS neutral_rows, count(*) FILTER (WHERE q_value < 0.05) AS significant_neutral,
       count(*) FILTER (WHERE diff_ci_low <= 0 AND diff_ci_high >= 0) AS intervals_covering_zero
  FROM drv_sig_result
 WHERE NOT flagged_low_count AND NOT (behavior IN ('POST /webhooks', 'saw >= 2 5xx'));

-- The features value_drivers is built on, usable on their own.
SELECT (f).behaviors, (f).server_errors, (f).slow, (f).outcome
  FROM (SELECT apivalue.driver_features(ts, endpoint, endpoint = 'POST /upgrade', status >= 500,
                                        latency_ms, '7 days', NULL, 1, 2, 800, false, NULL) AS f
          FROM drv_sig_events WHERE user_id = 7 GROUP BY user_id) s;
SELECT user_id, apivalue.behavior_counts(ts, endpoint, '7 days')
  FROM drv_sig_events WHERE user_id IN (7, 8) GROUP BY user_id ORDER BY user_id;

DROP TABLE drv_sig_users, drv_sig_events, drv_sig_result;
