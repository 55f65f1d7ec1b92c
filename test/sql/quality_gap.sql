-- Missing data: sequence gaps and dead time.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql
SET timezone = 'UTC';

-- ---- sequence gaps: hand-made edge cases ----
SELECT label, apivalue.sequence_gap_count(x) AS missing, apivalue.missing_sequence_ranges(x) AS ranges
FROM (VALUES
  ('no rows', NULL::bigint[]),
  ('one event', ARRAY[7]),
  ('all duplicates', ARRAY[5, 5, 5, 5]),
  ('contiguous, reordered', ARRAY[3, 1, 2, 5, 4]),
  ('holes and duplicates', ARRAY[1, 2, 3, 5, 5, 9, 9, 2]),
  ('NULLs skipped', ARRAY[1, NULL, 4]),
  ('reset: 1..5 then 1..3 again', ARRAY[1, 2, 3, 4, 5, 1, 2, 3]),
  ('reset: 1..5 then 1, 3 (union, nothing missing)', ARRAY[1, 2, 3, 4, 5, 1, 3]),
  ('negative and extreme values', ARRAY[-9223372036854775807, -9223372036854775806, -9223372036854775804]),
  -- A 32-bit counter that wraps is compared as numbers: the hole across the
  -- wrap counts as missing.  Group by counter epoch to avoid it.
  ('wrap at 2^32', ARRAY[4294967294, 4294967295, 0, 1])) v(label, xs)
LEFT JOIN LATERAL unnest(xs) x ON true
GROUP BY label ORDER BY label;

-- Two-step: summary and accessors; round trip through text; rollup.
SELECT apivalue.row_count(s) AS rows, apivalue.received_count(s) AS received,
       apivalue.expected_count(s) AS expected, apivalue.missing_count(s) AS missing,
       apivalue.missing_ranges(s) AS ranges,
       apivalue.missing_count(s::text::apivalue.sequence_summary) AS via_text
FROM (SELECT apivalue.sequence_summary(x) AS s FROM unnest(ARRAY[10, 11, 11, 14, 20]::bigint[]) x) q;
SELECT apivalue.missing_ranges(apivalue.rollup(s)) AS rolled
FROM (SELECT apivalue.sequence_summary(x) AS s FROM unnest(ARRAY[1, 2, 8]::bigint[]) x
      UNION ALL SELECT apivalue.sequence_summary(x) FROM unnest(ARRAY[4, 5, 9, 12]::bigint[]) x
      UNION ALL SELECT NULL) q;
-- A corrupt or foreign value is rejected.
SELECT '\x0102'::apivalue.sequence_summary;
SELECT apivalue.missing_count(
  (SELECT apivalue.dead_time_summary(t, '1 hour')::text FROM unnest(ARRAY[now()]) t)::apivalue.sequence_summary);

-- ---- sequence gaps: random data against plain SQL ----
SELECT setseed(0.17);
CREATE TABLE qg_seq AS
SELECT dev, seq FROM (
  SELECT d AS dev, s AS seq, random() AS p
  FROM generate_series(1, 80) d, generate_series(1, (random() * 400)::int + 1) s) x
WHERE p > 0.02 * (dev % 5);                            -- lose events on some devices
INSERT INTO qg_seq SELECT dev, seq FROM qg_seq WHERE random() < 0.05;   -- duplicates
INSERT INTO qg_seq SELECT dev, NULL FROM qg_seq WHERE random() < 0.01;  -- NULLs
INSERT INTO qg_seq SELECT 1000 + dev, seq * 3 FROM qg_seq WHERE dev < 10; -- sparse devices
ANALYZE qg_seq;

SELECT * FROM avtest.diff(
  $$SELECT dev::text AS k, concat_ws(' ', apivalue.sequence_gap_count(seq), apivalue.missing_sequence_ranges(seq)) AS v
    FROM qg_seq GROUP BY dev$$,
  $$SELECT d.dev::text AS k, concat_ws(' ', d.missing, coalesce(m.ranges, '{}'::int8multirange)) AS v
    FROM (SELECT dev, max(seq) - min(seq) + 1 - count(DISTINCT seq) AS missing, min(seq) AS lo, max(seq) AS hi
          FROM qg_seq WHERE seq IS NOT NULL GROUP BY dev) d
    LEFT JOIN LATERAL (
      SELECT range_agg(int8range(g, g + 1)) AS ranges
      FROM generate_series(d.lo, d.hi) g
      WHERE NOT EXISTS (SELECT 1 FROM qg_seq q WHERE q.dev = d.dev AND q.seq = g)) m ON true$$);
-- Whole table as one group (split across workers under parallel plans).
SELECT * FROM avtest.diff(
  $$SELECT 'all' AS k, apivalue.sequence_gap_count(seq + dev * 1000)::text AS v FROM qg_seq$$,
  $$SELECT 'all' AS k, (max(seq + dev * 1000) - min(seq + dev * 1000) + 1 - count(DISTINCT seq + dev * 1000))::text AS v FROM qg_seq$$);
-- Rollup of per-device summaries = one summary over all rows.
SELECT * FROM avtest.diff(
  $$SELECT 'all' AS k, apivalue.missing_ranges(apivalue.rollup(s))::text AS v
    FROM (SELECT dev, apivalue.sequence_summary(seq) AS s FROM qg_seq GROUP BY dev) d$$,
  $$SELECT 'all' AS k, apivalue.missing_sequence_ranges(seq)::text AS v FROM qg_seq$$);
-- The table function: devices with gaps.
SELECT * FROM avtest.diff(
  $$SELECT device AS k, concat_ws(' ', rows, received, expected, missing) AS v
    FROM apivalue.device_sequence_gaps('qg_seq', 'dev', 'seq')$$,
  $$SELECT dev::text AS k, concat_ws(' ', count(seq), count(DISTINCT seq), max(seq) - min(seq) + 1,
                                     max(seq) - min(seq) + 1 - count(DISTINCT seq)) AS v
    FROM qg_seq GROUP BY dev HAVING max(seq) - min(seq) + 1 - count(DISTINCT seq) > 0$$);
SELECT * FROM apivalue.device_sequence_gaps('qg_seq', 'dev', 'nope');

-- ---- dead time: hand-made edge cases ----
-- Gaps 30 min, 2 h 30, 10 min with max_gap 1 hour: one dead period of 1 h 30.
SELECT label, apivalue.dead_time(t, interval '1 hour') AS dead
FROM (VALUES
  ('no rows', NULL::timestamptz[]),
  ('one event', ARRAY['2024-01-01 00:00']::timestamptz[]),
  ('all duplicates', ARRAY['2024-01-01 00:00', '2024-01-01 00:00', '2024-01-01 00:00']::timestamptz[]),
  ('heartbeat', ARRAY['2024-01-01 00:00', '2024-01-01 00:30', '2024-01-01 03:00', '2024-01-01 03:10']::timestamptz[]),
  ('reordered with NULL', ARRAY['2024-01-01 03:10', NULL, '2024-01-01 00:00', '2024-01-01 03:00', '2024-01-01 00:30']::timestamptz[]),
  ('exactly max_gap apart', ARRAY['2024-01-01 00:00', '2024-01-01 01:00', '2024-01-01 02:00']::timestamptz[])) v(label, ts)
LEFT JOIN LATERAL unnest(ts) t ON true
GROUP BY label ORDER BY label;
SELECT apivalue.dead_time(s) AS dead, apivalue.longest_gap(s) AS longest, apivalue.gap_count(s) AS gaps,
       apivalue.gap_ranges(s) AS ranges, apivalue.event_count(s) AS events, apivalue.max_gap(s)
FROM (SELECT apivalue.dead_time_summary(t, interval '1 hour') AS s
      FROM unnest(ARRAY['2024-01-01 00:00', '2024-01-01 00:30', '2024-01-01 03:00', '2024-01-01 03:10',
                        '2024-01-01 06:00']::timestamptz[]) t) q;
SELECT apivalue.longest_gap(apivalue.dead_time_summary(t, interval '1 hour')) IS NULL AS no_gap_is_null
FROM unnest(ARRAY['2024-01-01 00:00', '2024-01-01 00:30']::timestamptz[]) t;
-- Future timestamps are ordinary values; infinite ones are errors.
SELECT apivalue.dead_time(t, interval '1 day')
FROM unnest(ARRAY['2024-01-01', '2999-01-01']::timestamptz[]) t;
SELECT apivalue.dead_time(t, interval '1 hour') FROM unnest(ARRAY['2024-01-01', 'infinity']::timestamptz[]) t;
-- Bad max_gap: NULL, negative, changing between rows; summaries of
-- different max_gap do not merge.
SELECT apivalue.dead_time(t, NULL) FROM unnest(ARRAY['2024-01-01']::timestamptz[]) t;
SELECT apivalue.dead_time(t, interval '-1 minute') FROM unnest(ARRAY['2024-01-01']::timestamptz[]) t;
SELECT apivalue.dead_time(t, interval '1 minute' * i) FROM unnest(ARRAY['2024-01-01', '2024-01-02']::timestamptz[]) WITH ORDINALITY u(t, i);
SELECT apivalue.rollup(s) FROM (
  SELECT apivalue.dead_time_summary(t, interval '1 hour') s FROM unnest(ARRAY[now()]) t
  UNION ALL SELECT apivalue.dead_time_summary(t, interval '2 hours') FROM unnest(ARRAY[now()]) t) q;

-- ---- dead time: random data against plain SQL ----
SELECT setseed(0.33);
CREATE TABLE qg_ts AS
SELECT (random() * 29)::int AS src,
       timestamptz '2024-05-01' + (random() * 86400 * 2)::int * interval '1 s'
         + CASE WHEN random() < 0.5 THEN interval '0' ELSE (random() * 1000)::int * interval '1 ms' END AS ts
FROM generate_series(1, 5000);
DELETE FROM qg_ts WHERE src % 3 = 0 AND ts BETWEEN '2024-05-01 10:00' AND '2024-05-01 14:00';  -- dead periods
INSERT INTO qg_ts SELECT src, ts FROM qg_ts WHERE random() < 0.05;                                -- duplicates
ANALYZE qg_ts;
SELECT * FROM avtest.diff(
  $$SELECT src::text AS k, concat_ws(' ', apivalue.dead_time(s), apivalue.longest_gap(s), apivalue.gap_count(s),
                                     apivalue.gap_ranges(s), apivalue.event_count(s)) AS v
    FROM (SELECT src, apivalue.dead_time_summary(ts, interval '45 minutes') AS s FROM qg_ts GROUP BY src) q$$,
  $$SELECT src::text AS k,
           concat_ws(' ', coalesce(sum(greatest(gap - interval '45 minutes', interval '0')), interval '0'),
                     max(gap) FILTER (WHERE gap > interval '45 minutes'),
                     count(*) FILTER (WHERE gap > interval '45 minutes'),
                     coalesce(range_agg(tstzrange(prev, ts, '()')) FILTER (WHERE gap > interval '45 minutes'), '{}'),
                     count(*)) AS v
    FROM (SELECT src, ts, lag(ts) OVER w AS prev, ts - lag(ts) OVER w AS gap
          FROM qg_ts WINDOW w AS (PARTITION BY src ORDER BY ts)) x
    GROUP BY src$$);
SELECT * FROM avtest.diff(
  $$SELECT 'all' AS k, extract(epoch FROM apivalue.dead_time(ts + src * interval '3 days', interval '10 minutes'))::text AS v FROM qg_ts$$,
  $$SELECT 'all' AS k, extract(epoch FROM sum(greatest(t - lag, interval '0')))::text AS v
    FROM (SELECT t, lag(t) OVER (ORDER BY t) + interval '10 minutes' AS lag
          FROM (SELECT ts + src * interval '3 days' AS t FROM qg_ts) y) x$$);
SELECT * FROM avtest.diff(
  $$SELECT coalesce(source, '-') || ' ' || gap_start AS k, concat_ws(' ', gap_end, gap, dead_time) AS v
    FROM apivalue.dead_periods('qg_ts', 'ts', interval '45 minutes', 'src')$$,
  $$SELECT src || ' ' || prev AS k, concat_ws(' ', ts, ts - prev, ts - prev - interval '45 minutes') AS v
    FROM (SELECT src, ts, lag(ts) OVER (PARTITION BY src ORDER BY ts) AS prev FROM qg_ts) x
    WHERE ts - prev > interval '45 minutes'$$);
SELECT count(*) AS periods_without_source FROM apivalue.dead_periods('qg_ts', 'ts', interval '30 minutes');
SELECT * FROM apivalue.dead_periods('qg_ts', 'src', interval '1 hour');

DROP TABLE qg_seq, qg_ts;
