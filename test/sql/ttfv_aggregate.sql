-- time_to_first_value: edge cases, errors, and a randomized comparison with
-- a plain-SQL reference (min start; min value at or after it).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
\i test/data/diff.sql

CREATE TABLE ttfv_cases (name text, ts timestamptz, s boolean, v boolean);
INSERT INTO ttfv_cases VALUES
  -- a value before the start does not count
  ('value before start', '2024-01-01 10:00', false, true),
  ('value before start', '2024-01-01 11:00', true, false),
  -- ... but a later one does
  ('value before and after', '2024-01-01 09:00', false, true),
  ('value before and after', '2024-01-01 10:00', true, false),
  ('value before and after', '2024-01-01 13:00', false, true),
  -- same instant, separate rows and the same row
  ('same instant', '2024-01-01 10:00', true, false),
  ('same instant', '2024-01-01 10:00', false, true),
  ('same row', '2024-01-01 10:00', true, true),
  -- never
  ('never', '2024-01-01 10:00', true, false),
  ('never', '2024-01-02 10:00', false, false),
  -- several starts: counted from the first
  ('several starts', '2024-01-01 12:00', true, false),
  ('several starts', '2024-01-01 10:00', true, false),
  ('several starts', '2024-01-01 11:00', false, true),
  ('several starts', '2024-01-01 13:00', false, true),
  -- no start at all
  ('no start', '2024-01-01 10:00', false, true),
  -- more than a day: hours justified into days, as ts - ts gives
  ('26 hours', '2024-01-01 10:00', true, false),
  ('26 hours', '2024-01-02 12:00', false, true),
  -- NULL timestamps and flags are skipped
  ('nulls', NULL, true, true),
  ('nulls', '2024-01-01 10:00', NULL, true),
  ('nulls', '2024-01-01 11:00', true, NULL),
  ('nulls', '2024-01-01 11:30', NULL, NULL),
  ('nulls', '2024-01-01 12:00', false, true);

SELECT name,
       apivalue.time_to_first_value(ts, s, v) AS ttfv,
       apivalue.time_to_first_value(ts, s, v ORDER BY ts DESC) AS ttfv_reversed,
       apivalue.time_to_first_value(ts, s, v, interval '2 hours') AS within_2h,
       apivalue.time_to_first_value(ts, s, v, interval '1 hour') AS within_1h
FROM ttfv_cases GROUP BY name ORDER BY name;

-- the whole table as one group, and no rows at all
SELECT apivalue.time_to_first_value(ts, s, v) AS all_rows FROM ttfv_cases;
SELECT apivalue.time_to_first_value(ts, s, v) AS no_rows FROM ttfv_cases WHERE false;
-- within is inclusive
SELECT apivalue.time_to_first_value(ts, s, v, interval '26 hours') AS at_limit,
       apivalue.time_to_first_value(ts, s, v, interval '1 day 01:59:59') AS past_limit
FROM ttfv_cases WHERE name = '26 hours';

-- errors
SELECT apivalue.time_to_first_value(ts, s, v, interval '-1 hour') FROM ttfv_cases;
SELECT apivalue.time_to_first_value(ts, s, v, CASE WHEN s THEN interval '1 hour' ELSE interval '2 hours' END)
FROM ttfv_cases WHERE name = 'several starts';
SELECT apivalue.time_to_first_value(ts, s, v) FROM (VALUES ('infinity'::timestamptz, true, false)) x(ts, s, v);
-- an infinite timestamp on a row that is neither start nor value is never looked at
SELECT apivalue.time_to_first_value(ts, s, v) FROM (VALUES ('infinity'::timestamptz, false, false)) x(ts, s, v);

-- Many value events before the first start (the pending list grows and compacts).
SELECT apivalue.time_to_first_value(ts, s, v ORDER BY ts DESC) AS many_pending,
       apivalue.time_to_first_value(ts, s, v ORDER BY ts) AS many_sorted
FROM (SELECT '2024-01-01'::timestamptz + i * interval '1 minute' AS ts, i = 500 AS s, i % 3 = 1 AS v
      FROM generate_series(1, 3000) i) x;

-- Randomized: 400 users, ties on the minute, values before starts, NULLs.
SELECT setseed(0.17);
CREATE TABLE ttfv_ev AS
SELECT (random() * 400)::int AS u,
       CASE WHEN random() < 0.01 THEN NULL
            ELSE '2024-03-01'::timestamptz + (random() * 20000)::int * interval '1 minute' END AS ts,
       CASE WHEN random() < 0.01 THEN NULL ELSE random() < 0.12 END AS s,
       CASE WHEN random() < 0.01 THEN NULL ELSE random() < 0.2 END AS v
FROM generate_series(1, 12000);
-- physical order: newest first, so many values arrive before their start
CREATE TABLE ttfv_ev_desc AS SELECT * FROM ttfv_ev ORDER BY ts DESC NULLS FIRST;
ANALYZE ttfv_ev, ttfv_ev_desc;

CREATE FUNCTION ttfv_reference(rel text, within interval) RETURNS text LANGUAGE sql AS $$
  SELECT format($q$
    SELECT f.u::text AS k,
           (SELECT CASE WHEN %2$L::interval IS NULL OR min(e.ts) - f.fs <= %2$L::interval
                        THEN min(e.ts) - f.fs END
            FROM %1$s e WHERE e.u = f.u AND e.v AND e.ts >= f.fs)::text AS v
    FROM (SELECT u, min(ts) FILTER (WHERE s) AS fs FROM %1$s GROUP BY u) f $q$, rel, within)
$$;

SELECT * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.time_to_first_value(ts, s, v)::text AS v FROM ttfv_ev GROUP BY u$$,
  ttfv_reference('ttfv_ev', NULL));
SELECT * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.time_to_first_value(ts, s, v)::text AS v FROM ttfv_ev_desc GROUP BY u$$,
  ttfv_reference('ttfv_ev_desc', NULL));
SELECT * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.time_to_first_value(ts, s, v, '1 day')::text AS v FROM ttfv_ev_desc GROUP BY u$$,
  ttfv_reference('ttfv_ev_desc', '1 day'));
-- a few large groups (partial states merged under parallel plans)
SELECT * FROM avtest.diff(
  $$SELECT (u % 5)::text AS k, apivalue.time_to_first_value(ts, s, v)::text AS v FROM ttfv_ev_desc GROUP BY u % 5$$,
  $$SELECT f.u::text AS k, ((SELECT min(e.ts) FROM ttfv_ev e WHERE e.u % 5 = f.u AND e.v AND e.ts >= f.fs) - f.fs)::text AS v
    FROM (SELECT u % 5 AS u, min(ts) FILTER (WHERE s) AS fs FROM ttfv_ev GROUP BY u % 5) f$$);
-- the sum of all answers, so a wrong but self-consistent answer still shows
SELECT count(ttfv) AS reached, count(*) AS users, sum(ttfv) AS total_ttfv
FROM (SELECT apivalue.time_to_first_value(ts, s, v) AS ttfv FROM ttfv_ev GROUP BY u) x;

DROP FUNCTION ttfv_reference(text, interval);
DROP TABLE ttfv_cases, ttfv_ev, ttfv_ev_desc;
