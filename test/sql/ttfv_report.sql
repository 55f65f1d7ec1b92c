-- ttfv_report: hand-checked cases, errors, and a randomized comparison with
-- plain SQL (percentile_cont over per-user min/filter times).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
\i test/data/diff.sql

CREATE TABLE ttfv_small (uid int, at timestamptz, event text, tier text, received_at timestamptz);
INSERT INTO ttfv_small VALUES
  (1, '2024-01-01 10:00', 'signup', 'free', '2024-01-01 10:00'),
  (1, '2024-01-01 11:00', 'first_call', 'free', '2024-01-01 11:00'),
  (2, '2024-01-02 10:00', 'signup', 'free', '2024-01-02 10:00'),
  (2, '2024-01-04 10:00', 'first_call', 'free', '2024-01-04 10:00'),
  (3, '2024-01-03 10:00', 'first_call', 'pro', '2024-01-03 10:00'),   -- value before start
  (3, '2024-01-03 12:00', 'signup', 'pro', '2024-01-03 12:00'),
  (4, '2024-01-09 10:00', 'signup', 'pro', '2024-01-09 10:00'),
  (4, '2024-01-09 10:30', 'first_call', 'pro', '2024-01-12 10:30'),   -- arrived 3 days late
  (5, '2024-01-10 10:00', 'first_call', 'pro', '2024-01-10 10:00');   -- never started
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'at', $$event = 'signup'$$, $$event = 'first_call'$$);
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'at', $$event = 'signup'$$, $$event = 'first_call'$$,
  within => '1 day', segment_column => 'tier', period => 'month',
  timestamp_check => $$received_at - at < interval '1 hour'$$);
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'at', $$event = 'signup'$$, $$event = 'first_call'$$,
  locale => 'en_US', time_zone => 'America/New_York', until => '2024-01-09');

-- errors
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'at', 'event', $$event = 'first_call'$$);
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'at', $$event = 'signup'$$, 'nope');
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'nope', 'at', $$event = 'signup'$$, 'true');
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'event', $$event = 'signup'$$, 'true');
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'at', $$event = 'signup'$$, 'true', within => '-1 day');
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'at', $$event = 'signup'$$, 'true', locale => 'zz_QQ');
SELECT * FROM apivalue.ttfv_report('ttfv_small', 'uid', 'at', $$event = 'signup'$$,
  $$true) FROM ttfv_small; DELETE FROM ttfv_small; SELECT (true$$);
SELECT count(*) AS rows_intact FROM ttfv_small;

-- Randomized comparison with plain SQL, with segments and a timestamp check.
SELECT setseed(0.91);
CREATE TABLE ttfv_rep AS
SELECT (random() * 600)::int AS uid,
       '2024-03-01'::timestamptz + random() * interval '90 days' AS at,
       (ARRAY['signup', 'key_created', 'call', 'call', 'error'])[1 + (random() * 4)::int] AS event,
       (ARRAY['free', 'pro', NULL])[1 + (random() * 2)::int] AS tier,
       random() < 0.02 AS late
FROM generate_series(1, 12000);

SELECT * FROM avtest.diff(
  $$SELECT coalesce(segment, '-') || ' ' || cohort_start AS k,
           concat_ws(' ', users_started, users_reached, round(activation_rate::numeric, 9), p50, p75, p90, excluded_users) AS v
    FROM apivalue.ttfv_report('ttfv_rep', 'uid', 'at', $c$event = 'signup'$c$, $c$event = 'call'$c$,
      within => '5 days', segment_column => 'tier', time_zone => 'Europe/Berlin', timestamp_check => 'NOT late')$$,
  $$WITH f AS (SELECT uid, min(at) FILTER (WHERE event = 'signup') AS fs,
                      bool_or(late) FILTER (WHERE event IN ('signup', 'call')) AS bad
               FROM ttfv_rep GROUP BY uid),
    seg AS (SELECT DISTINCT ON (uid) uid, tier FROM ttfv_rep WHERE event = 'signup'
            ORDER BY uid, at, tier COLLATE "C"),
    pu AS (SELECT f.uid, seg.tier, date_trunc('week', f.fs, 'Europe/Berlin') AS cw, coalesce(f.bad, false) AS bad,
                  (SELECT CASE WHEN min(e.at) - f.fs <= interval '5 days' THEN min(e.at) - f.fs END
                   FROM ttfv_rep e WHERE e.uid = f.uid AND e.event = 'call' AND e.at >= f.fs) AS ttfv
           FROM f JOIN seg USING (uid) WHERE f.fs IS NOT NULL)
    SELECT coalesce(tier, '-') || ' ' || cw AS k,
           concat_ws(' ', count(*) FILTER (WHERE NOT bad), count(ttfv) FILTER (WHERE NOT bad),
                     round(count(ttfv) FILTER (WHERE NOT bad)::numeric / nullif(count(*) FILTER (WHERE NOT bad), 0), 9),
                     percentile_cont(0.5) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
                     percentile_cont(0.75) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
                     percentile_cont(0.9) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
                     count(*) FILTER (WHERE bad)) AS v
    FROM pu GROUP BY tier, cw$$);

DROP TABLE ttfv_small, ttfv_rep;
