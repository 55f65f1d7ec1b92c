-- Calibration with canary events: the sample data set's canaries against its
-- ground truth, pending windows, bad input, row-level security, and the
-- check kinds calibration and freshness.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set ECHO none
\i test/data/sample.sql
\set ECHO all

SELECT sample.generate(users => 20) > 0 AS generated;

-- SQLSTATE (and message) of a statement, or ok.
CREATE FUNCTION gov_cal_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The whole 12 weeks, one canary every 5 minutes, latency = arrival - stamp.
CREATE TABLE gov_cal_windows AS
SELECT * FROM apivalue.calibration_check('sample.events', 'ts', $$event = 'canary'$$, '5 minutes',
                                         '2026-01-05 00:00+00', 'received_at - ts', '5 minutes',
                                         until => timestamptz '2026-01-05 00:00+00' + interval '2016 hours' - interval '1 second');
SELECT count(*) AS windows, min(window_start) AS first_start, max(window_end) AS last_end,
       count(*) FILTER (WHERE window_end - window_start <> interval '5 minutes') AS odd_lengths,
       sum(expected) AS expected, sum(received) AS received
FROM gov_cal_windows;
SELECT status, received > 0 AS has_canary, count(*) FROM gov_cal_windows GROUP BY 1, 2 ORDER BY 1, 2;

-- Against the ground truth: a window fails for lack of a canary exactly when
-- it lies in the missing hour or the dead period, fails by latency exactly
-- in the late burst, and passes otherwise.
WITH gt AS (
  SELECT key, (detail ->> 'from')::timestamptz AS f, (detail ->> 'to')::timestamptz AS t
  FROM sample.ground_truth WHERE fault = 'canary'
), expect AS (
  SELECT w.*,
         CASE WHEN EXISTS (SELECT 1 FROM gt WHERE gt.key IN ('missing_hour', 'dead_period')
                             AND w.window_start >= gt.f AND w.window_start < gt.t) THEN 'missing'
              WHEN EXISTS (SELECT 1 FROM gt WHERE gt.key = 'late_burst'
                             AND w.window_start >= gt.f AND w.window_start < gt.t) THEN 'late'
              ELSE 'ok' END AS truth
  FROM gov_cal_windows w
)
SELECT truth, count(*) AS windows,
       count(*) FILTER (WHERE truth = 'missing' AND NOT (status = 'fail' AND received = 0)
                         OR truth = 'late' AND NOT (status = 'fail' AND received = 1 AND max_latency > interval '5 minutes')
                         OR truth = 'ok' AND NOT (status = 'pass' AND received = 1 AND max_latency <= interval '5 minutes'))
         AS mismatches
FROM expect GROUP BY truth ORDER BY truth;
SELECT (detail ->> 'missing')::int AS missing_hour_canaries FROM sample.ground_truth WHERE fault = 'canary' AND key = 'missing_hour';
SELECT (detail ->> 'count')::int AS late_canaries, (detail ->> 'delay_seconds')::int AS delay_seconds
FROM sample.ground_truth WHERE fault = 'canary' AND key = 'late_burst';
-- the late canaries were three hours (plus network time) late
SELECT min(max_latency) >= interval '3 hours' AS at_least_3h, max(max_latency) < interval '3 hours 1 second' AS under_3h_1s
FROM gov_cal_windows WHERE status = 'fail' AND received > 0;

-- Without a latency limit the late burst passes: only the latency flags it.
SELECT status, count(*), count(max_latency) AS with_latency
FROM apivalue.calibration_check('sample.events', 'ts', $$event = 'canary'$$, '5 minutes',
                                '2026-01-05 00:00+00',
                                until => timestamptz '2026-01-05 00:00+00' + interval '2016 hours' - interval '1 second')
GROUP BY status ORDER BY status;

-- Hourly windows over the missing hour's day: every window has 12 canaries
-- but the missing one (14:00-15:00 on day 20).
SELECT window_start, received, status
FROM apivalue.calibration_check('sample.events', 'ts', $$event = 'canary'$$, '1 hour',
                                timestamptz '2026-01-05 00:00+00' + interval '20 days 12 hours',
                                until => timestamptz '2026-01-05 00:00+00' + interval '20 days 16 hours 59 minutes')
ORDER BY window_start;

-- Pending: a window that has not ended yet and has no canary yet.
CREATE TABLE gov_cal_small (ts timestamptz, kind text, arrived timestamptz);
INSERT INTO gov_cal_small VALUES
  ('2026-02-01 10:00+00', 'canary', '2026-02-01 10:00:01+00'),
  ('2026-02-01 10:10+00', 'canary', '2026-02-01 10:10:02+00'),
  ('2026-02-01 10:21+00', 'call', '2026-02-01 10:21:00+00'),
  ('2026-02-01 10:23+00', 'call', '2026-02-01 10:23:00+00');
SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', $$kind = 'canary'$$, '10 minutes', '2026-02-01 10:00+00',
                                         'arrived - ts', '1 second');
-- up to an explicit end: windows ended by then are judged, the one still
-- open at that time is pending
SELECT window_start, status FROM apivalue.calibration_check('gov_cal_small', 'ts', $$kind = 'canary'$$, '10 minutes',
                                                           '2026-02-01 10:00+00', until => '2026-02-01 10:45+00');
-- nothing after since, or no rows at all: no windows
SELECT count(*) AS after_newest FROM apivalue.calibration_check('gov_cal_small', 'ts', $$kind = 'canary'$$, '10 minutes', '2026-03-01');
CREATE TABLE gov_cal_empty (ts timestamptz, kind text);
SELECT count(*) AS empty FROM apivalue.calibration_check('gov_cal_empty', 'ts', $$kind = 'canary'$$, '10 minutes', '2026-03-01');

-- Bad input.
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', '0 minutes', '2026-02-01')$$) AS zero_every;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', NULL, '2026-02-01')$$) AS null_every;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', '5 minutes', NULL)$$) AS null_since;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', '5 minutes', 'infinity')$$) AS infinite_since;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', '5 minutes', '2026-02-01', until => '-infinity')$$) AS infinite_until;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'nope', 'kind = ''canary''', '5 minutes', '2026-02-01')$$) AS unknown_column;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'kind', 'kind = ''canary''', '5 minutes', '2026-02-01')$$) AS text_time_column;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind', '5 minutes', '2026-02-01')$$) AS not_boolean;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'true; DROP TABLE gov_cal_small', '5 minutes', '2026-02-01')$$) AS second_statement;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', '5 minutes', '2026-02-01', 'arrived')$$) AS latency_not_interval;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', '5 minutes', '2026-02-01', NULL, '1 minute')$$) AS limit_without_latency;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', '5 minutes', '2026-02-01', 'arrived - ts', '-1 minute')$$) AS negative_limit;
SELECT gov_cal_try($$SELECT * FROM apivalue.calibration_check('gov_cal_small', 'ts', 'kind = ''canary''', '1 millisecond', '2020-01-01')$$) AS too_many_windows;
SELECT count(*) AS table_still_there FROM gov_cal_small;

-- Row-level security: each tenant's canaries, each tenant sees its own gaps.
CREATE ROLE regress_gov_cal_a;
CREATE ROLE regress_gov_cal_b;
CREATE TABLE gov_cal_rls (tenant text, ts timestamptz, kind text);
INSERT INTO gov_cal_rls
SELECT t, timestamptz '2026-02-01 00:00+00' + k * interval '10 minutes', 'canary'
FROM unnest(ARRAY['regress_gov_cal_a', 'regress_gov_cal_b']) t, generate_series(0, 11) k
WHERE NOT (t = 'regress_gov_cal_a' AND k = 3) AND NOT (t = 'regress_gov_cal_b' AND k IN (7, 8));
ALTER TABLE gov_cal_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY gov_cal_tenant ON gov_cal_rls USING (tenant = current_user);
GRANT SELECT ON gov_cal_rls TO regress_gov_cal_a, regress_gov_cal_b;
SET ROLE regress_gov_cal_a;
SELECT current_user AS tenant, window_start, status
FROM apivalue.calibration_check('gov_cal_rls', 'ts', $$kind = 'canary'$$, '10 minutes', '2026-02-01 00:00+00')
WHERE status <> 'pass' ORDER BY window_start;
RESET ROLE;
SET ROLE regress_gov_cal_b;
SELECT current_user AS tenant, window_start, status
FROM apivalue.calibration_check('gov_cal_rls', 'ts', $$kind = 'canary'$$, '10 minutes', '2026-02-01 00:00+00')
WHERE status <> 'pass' ORDER BY window_start;
RESET ROLE;
-- the owner (no RLS for the owner) sees both tenants' canaries, so no gap
SELECT count(*) FILTER (WHERE status <> 'pass') AS owner_gaps
FROM apivalue.calibration_check('gov_cal_rls', 'ts', $$kind = 'canary'$$, '10 minutes', '2026-02-01 00:00+00');

-- Check kinds.  Canaries every 5 minutes up to now, one missing 30 minutes
-- ago; a second source whose newest event is two hours old.
SELECT kind, observed FROM apivalue.quality_check_kinds WHERE kind IN ('calibration', 'freshness', 'tracking_plan') ORDER BY kind;
CREATE TABLE gov_cal_live (ts timestamptz, kind text, arrived timestamptz);
INSERT INTO gov_cal_live
SELECT date_bin('5 minutes', now(), '2000-01-01') - k * interval '5 minutes', 'canary',
       date_bin('5 minutes', now(), '2000-01-01') - k * interval '5 minutes' + interval '2 seconds'
FROM generate_series(0, 30) k WHERE k <> 6;
CREATE TABLE gov_cal_stale (ts timestamptz);
INSERT INTO gov_cal_stale VALUES (now() - interval '2 hours'), (now() - interval '3 hours');
SELECT (apivalue.add_quality_check('gov canaries', 'gov_cal_live', 'calibration',
          '{"time_column": "ts", "canary_condition": "kind = ''canary''", "every": "5 minutes",
            "window": "2 hours", "latency": "arrived - ts", "max_latency": "1 minute"}')).parameters;
SELECT (apivalue.add_quality_check('gov fresh live', 'gov_cal_live', 'freshness', '{"time_column": "ts"}',
                                   warn_threshold => 900, fail_threshold => 3600)).kind;
SELECT (apivalue.add_quality_check('gov fresh stale', 'gov_cal_stale', 'freshness', '{"time_column": "ts"}',
                                   warn_threshold => 900, fail_threshold => 3600)).kind;
SELECT check_name, status, CASE WHEN check_name = 'gov canaries' THEN observed END AS failed_windows
FROM apivalue.run_quality_checks() WHERE check_name LIKE 'gov %' ORDER BY check_name;
SELECT observed BETWEEN 7200 AND 7300 AS stale_age_seconds FROM apivalue.quality_results WHERE check_name = 'gov fresh stale';
SELECT details ->> 'windows' AS windows, details ->> 'missing' AS missing, details ->> 'late' AS late,
       (details #>> '{failed_windows,0,window_start}')::timestamptz = date_bin('5 minutes', now(), '2000-01-01') - interval '30 minutes' AS the_missing_one,
       jsonb_array_length(sample) AS sampled
FROM apivalue.quality_results WHERE check_name = 'gov canaries';
-- validation of the kind's parameters
SELECT gov_cal_try($$SELECT apivalue.add_quality_check('gov bad', 'gov_cal_live', 'calibration',
          '{"time_column": "ts", "canary_condition": "kind = ''canary''", "every": "5 minutes", "max_latency": "1 minute"}')$$) AS limit_without_latency;
SELECT gov_cal_try($$SELECT apivalue.add_quality_check('gov bad', 'gov_cal_live', 'calibration',
          '{"time_column": "ts", "canary_condition": "kind", "every": "5 minutes"}')$$) AS not_boolean;
SELECT gov_cal_try($$SELECT apivalue.add_quality_check('gov bad', 'gov_cal_live', 'calibration',
          '{"time_column": "ts", "canary_condition": "true", "every": "0 minutes"}')$$) AS zero_every;
SELECT apivalue.drop_quality_check(name, false) FROM (VALUES ('gov canaries'), ('gov fresh live'), ('gov fresh stale')) v(name);

DROP TABLE gov_cal_windows, gov_cal_small, gov_cal_empty, gov_cal_rls, gov_cal_live, gov_cal_stale;
DROP ROLE regress_gov_cal_a, regress_gov_cal_b;
DROP FUNCTION gov_cal_try(text);
DROP SCHEMA sample CASCADE;
