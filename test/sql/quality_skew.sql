-- Clock skew: corrected_timestamp, clock_skew, clock_skew_summary + accessors.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql
SET timezone = 'UTC';

-- Scalar functions: Segment's formula.
SELECT apivalue.clock_skew('2024-01-01 12:05', '2024-01-01 12:00') AS ahead_5min,
       apivalue.clock_skew('2024-01-01 10:00', '2024-01-02 12:00') AS behind_26h,
       apivalue.corrected_timestamp('2024-01-01 11:59', '2024-01-01 12:05', '2024-01-01 12:00') AS corrected;
SELECT apivalue.clock_skew(NULL, '2024-01-01') IS NULL AS null_is_null;
-- Infinite timestamps are errors.
SELECT apivalue.clock_skew('infinity', '2024-01-01');
SELECT apivalue.corrected_timestamp('2024-01-01', '2024-01-01', '-infinity');

-- Hand-made device: offsets +30s, +9m40s, +5m20s; two events stamped in the
-- future; arrival order puts the 00:10 event first, so two arrive late.
CREATE TABLE qs_hand (dev int, c timestamptz, s timestamptz, r timestamptz);
INSERT INTO qs_hand VALUES
 (1, '2024-01-01 00:00', '2024-01-01 00:01', '2024-01-01 00:00:30'),
 (1, '2024-01-01 00:10', '2024-01-01 00:10', '2024-01-01 00:00:20'),
 (1, '2024-01-01 00:05', '2024-01-01 00:06', '2024-01-01 00:00:40'),
 -- one event only
 (2, '2024-01-01 00:00', '2024-01-01 00:00', '2024-01-01 01:00'),
 -- rows with a NULL are skipped; a device with only NULLs has no summary
 (2, NULL, '2024-01-01 00:00', '2024-01-01 01:00'),
 (3, '2024-01-01 00:00', NULL, '2024-01-01 01:00'),
 -- all identical events: ties are not out of order
 (4, '2024-01-01 00:00', '2024-01-01 00:00', '2024-01-01 00:00'),
 (4, '2024-01-01 00:00', '2024-01-01 00:00', '2024-01-01 00:00');
SELECT dev, apivalue.event_count(s) AS n, apivalue.median_offset(s), apivalue.max_abs_offset(s),
       apivalue.future_count(s) AS future, round(apivalue.future_share(s)::numeric, 4) AS future_share,
       apivalue.out_of_order_count(s) AS out_of_order
FROM (SELECT dev, apivalue.clock_skew_summary(c, s, r) AS s FROM qs_hand GROUP BY dev) q
ORDER BY dev;
-- Even count: the lower median (an offset that occurred).
SELECT apivalue.median_offset(apivalue.clock_skew_summary(c, s, r))
FROM (VALUES ('2024-01-01'::timestamptz, '2024-01-01 00:00:10'::timestamptz, '2024-01-01'::timestamptz),
             ('2024-01-01', '2024-01-01 00:00:20', '2024-01-01')) v(c, s, r);
-- Infinite input to the aggregate is an error.
SELECT apivalue.clock_skew_summary(c, s, r)
FROM (VALUES ('infinity'::timestamptz, '2024-01-01'::timestamptz, '2024-01-01'::timestamptz)) v(c, s, r);
-- The summary round-trips through text and binary, and garbage is rejected.
SELECT apivalue.median_offset(s::text::apivalue.clock_skew_summary) AS via_text
FROM (SELECT apivalue.clock_skew_summary(c, s, r) AS s FROM qs_hand WHERE dev = 1) q;
SELECT '\x0102'::apivalue.clock_skew_summary;
SELECT '\x01000000ff00000000000000'::apivalue.clock_skew_summary;

-- Random data: 60 devices, some with skewed clocks, against plain SQL.
SELECT setseed(0.61);
CREATE TABLE qs_rand AS
SELECT dev, c,
       c + delay + noise + CASE WHEN dev % 7 = 0 THEN (dev - 30) * interval '1 minute' ELSE interval '0' END AS s,
       c + delay + (random() * 3000)::int * interval '1 ms' AS r
FROM (SELECT (random() * 59)::int AS dev,
             timestamptz '2024-03-01' + (random() * 86400 * 3)::int * interval '1 s' AS c,
             (random() * 120)::int * interval '1 s' AS delay,
             CASE WHEN random() < 0.1 THEN (random() * 7200 - 3600)::int * interval '1 s' ELSE interval '0' END AS noise
      FROM generate_series(1, 6000)) g;
UPDATE qs_rand SET c = NULL WHERE random() < 0.01;
ANALYZE qs_rand;

SELECT * FROM avtest.diff(
  $$SELECT dev::text AS k,
           concat_ws(' ', apivalue.event_count(s), apivalue.median_offset(s), apivalue.max_abs_offset(s),
                     apivalue.future_count(s), round(apivalue.future_share(s)::numeric, 9),
                     apivalue.out_of_order_count(s)) AS v
    FROM (SELECT dev, apivalue.clock_skew_summary(c, s, r) AS s FROM qs_rand GROUP BY dev) q$$,
  $$SELECT dev::text AS k, concat_ws(' ', count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY s - r),
           max(greatest(s - r, r - s)), count(*) FILTER (WHERE c > r),
           round((count(*) FILTER (WHERE c > r))::numeric / count(*), 9),
           count(*) FILTER (WHERE c < prevmax)) AS v
    FROM (SELECT *, max(c) OVER (PARTITION BY dev ORDER BY r, c
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prevmax
          FROM qs_rand WHERE c IS NOT NULL AND s IS NOT NULL AND r IS NOT NULL) x
    GROUP BY dev$$);

-- Whole table in one group (parallel plans split it), and rollup of
-- per-device summaries equals the summary of all events.
SELECT * FROM avtest.diff(
  $$SELECT 'all' AS k, concat_ws(' ', apivalue.median_offset(s), apivalue.out_of_order_count(s), apivalue.future_count(s)) AS v
    FROM (SELECT apivalue.rollup(s) AS s FROM (SELECT dev, apivalue.clock_skew_summary(c, s, r) AS s FROM qs_rand GROUP BY dev) d) q$$,
  $$SELECT 'all' AS k, concat_ws(' ', apivalue.median_offset(s), apivalue.out_of_order_count(s), apivalue.future_count(s)) AS v
    FROM (SELECT apivalue.clock_skew_summary(c, s, r) AS s FROM qs_rand) q$$);
SELECT * FROM avtest.diff(
  $$SELECT 'all' AS k, apivalue.median_offset(apivalue.clock_skew_summary(c, s, r))::text AS v FROM qs_rand$$,
  $$SELECT 'all' AS k, (percentile_disc(0.5) WITHIN GROUP (ORDER BY s - r))::text AS v FROM qs_rand WHERE c IS NOT NULL$$);

-- Flagging devices: exactly those whose |median offset| > 10 minutes.
SELECT * FROM avtest.diff(
  $$SELECT device AS k, median_offset::text AS v
    FROM apivalue.skewed_devices('qs_rand', 'dev', 'c', 's', 'r', interval '10 minutes')$$,
  $$SELECT dev::text AS k, m::text AS v FROM (
      SELECT dev, percentile_disc(0.5) WITHIN GROUP (ORDER BY s - r) AS m
      FROM qs_rand WHERE c IS NOT NULL GROUP BY dev) x
    WHERE m > interval '10 minutes' OR m < interval '-10 minutes'$$);
-- Devices 0, 7, 14 (-30, -23, -16 min) and 42, 49, 56 (+12, +19, +26 min).
SELECT device, event_count > 0 AS has_events FROM apivalue.skewed_devices('qs_rand', 'dev', 'c', 's', 'r', interval '10 minutes') ORDER BY device::int;
-- Bad input to the table function.
SELECT * FROM apivalue.skewed_devices('qs_rand', 'nope', 'c', 's', 'r');
SELECT * FROM apivalue.skewed_devices('qs_rand', 'dev', 'dev', 's', 'r');
SELECT * FROM apivalue.skewed_devices('qs_rand', 'dev', 'c', 's', 'r', interval '-1 minute');

DROP TABLE qs_hand, qs_rand;

-- Events stored nearly in arrival order (a few late arrivals and a few
-- stamped an hour early), offsets with many ties: summaries sorted by moving
-- the few late events back, medians selected among equal values; against
-- plain SQL, per device (100 events) and over all 4000.
CREATE TABLE qs_near AS
SELECT g % 40 AS dev,
       timestamptz '2024-03-01' + g * interval '1 s'
         - CASE WHEN g % 97 = 0 THEN interval '1 hour' ELSE interval '0' END AS c,
       timestamptz '2024-03-01' + g * interval '1 s' + ((g * 7) % 5) * interval '1 s' AS s,
       timestamptz '2024-03-01' + g * interval '1 s'
         - CASE WHEN g % 89 = 0 THEN interval '100 s' ELSE interval '0' END AS r
FROM generate_series(1, 4000) g ORDER BY g;
SELECT * FROM avtest.diff(
  $$SELECT coalesce(dev::text, 'all') AS k,
           concat_ws(' ', apivalue.event_count(s), apivalue.median_offset(s),
                     apivalue.out_of_order_count(s), apivalue.future_count(s)) AS v
    FROM (SELECT dev, apivalue.clock_skew_summary(c, s, r) AS s FROM qs_near GROUP BY dev
          UNION ALL SELECT NULL, apivalue.clock_skew_summary(c, s, r) FROM qs_near) q$$,
  $$SELECT coalesce(dev::text, 'all') AS k,
           concat_ws(' ', count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY s - r),
                     count(*) FILTER (WHERE c < prevmax), count(*) FILTER (WHERE c > r)) AS v
    FROM (SELECT dev, c, s, r,
                 max(c) OVER (PARTITION BY dev ORDER BY r, c
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prevmax
          FROM qs_near
          UNION ALL
          SELECT NULL, c, s, r,
                 max(c) OVER (ORDER BY r, c ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
          FROM qs_near) x
    GROUP BY dev$$);
DROP TABLE qs_near;

-- A summary has one stored form whatever the plan: a flat value whose
-- "sorted" flag is unset (as a combine that keeps its first input hands it
-- on, e.g. on a Citus coordinator) comes out of rollup sorted and flagged,
-- byte for byte the summary the aggregate stores.
CREATE TABLE qs_form AS
SELECT apivalue.clock_skew_summary(ts, ts - interval '3 s' * (g % 7),
                                   ts + interval '1 s' * ((g * 37) % 11)) AS s
FROM (SELECT g, timestamptz '2026-01-01' + g * interval '1 min' AS ts
      FROM generate_series(1, 50) g) e;
SELECT substr(s::text, 1, 6) AS stored_header,
       (SELECT apivalue.rollup(v)
        FROM (VALUES (overlay(s::text PLACING '00' FROM 5 FOR 2)::apivalue.clock_skew_summary)) t(v))::text
         = s::text AS one_form
FROM qs_form;
DROP TABLE qs_form;
