-- journey_path, journey_path_from, journey_path_to (+ _times): edge cases,
-- bad input, and a randomized differential test against array_agg + SQL.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET TimeZone = 'UTC';

CREATE TABLE jp_edge (u int, ts timestamptz, s text);
-- user 1: arrives out of order; a tie at 10:01 (a before b by text);
-- repeats a,a collapse; the path is a,b,a,c
INSERT INTO jp_edge VALUES
  (1, '2024-01-01 10:05', 'c'), (1, '2024-01-01 10:01', 'b'),
  (1, '2024-01-01 10:00', 'a'), (1, '2024-01-01 10:01', 'a'),
  (1, '2024-01-01 10:02', 'a'), (1, '2024-01-01 10:05', 'c');
-- user 2: only NULLs (skipped) -> no path
INSERT INTO jp_edge VALUES (2, NULL, 'a'), (2, '2024-01-01 10:00', NULL);
-- user 3: ties between upper and lower case: C order puts 'B' before 'a'
INSERT INTO jp_edge VALUES (3, '2024-01-01 09:00', 'a'), (3, '2024-01-01 09:00', 'B'),
  (3, '2024-01-01 09:01', 'B');
-- user 4: a loop x,y,x,y,x,y,z
INSERT INTO jp_edge SELECT 4, '2024-01-02'::timestamptz + i * interval '1 s',
  (ARRAY['x','y','x','y','x','y','z'])[i + 1] FROM generate_series(0, 6) i;

SELECT u, apivalue.journey_path(ts, s COLLATE "C") AS path,
       apivalue.journey_path_times(ts, s COLLATE "C") AS started
FROM jp_edge GROUP BY u ORDER BY u;

-- max_steps cuts at the first max_steps runs
SELECT u, apivalue.journey_path(ts, s COLLATE "C", 1) AS one,
       apivalue.journey_path(ts, s COLLATE "C", 3) AS three
FROM jp_edge GROUP BY u ORDER BY u;

-- anchored: from the FIRST start step, up to the LAST end step
SELECT u, apivalue.journey_path_from(ts, s COLLATE "C", 'y') AS from_y,
       apivalue.journey_path_from(ts, s COLLATE "C", 'y', 2) AS from_y_2,
       apivalue.journey_path_from_times(ts, s COLLATE "C", 'y', 2) AS from_y_2_started,
       apivalue.journey_path_to(ts, s COLLATE "C", 'x') AS to_x,
       apivalue.journey_path_to(ts, s COLLATE "C", 'y', 3) AS to_y_3,
       apivalue.journey_path_to_times(ts, s COLLATE "C", 'y', 3) AS to_y_3_started
FROM jp_edge WHERE u = 4 GROUP BY u;
-- the anchor is an exact label; one that never occurs gives NULL
SELECT u, apivalue.journey_path_from(ts, s COLLATE "C", 'a') AS from_a,
       apivalue.journey_path_to(ts, s COLLATE "C", 'a') AS to_a,
       apivalue.journey_path_from(ts, s COLLATE "C", 'A') AS from_upper_a
FROM jp_edge GROUP BY u ORDER BY u;

-- empty input, and timestamp (without time zone) input
SELECT apivalue.journey_path(ts, s) IS NULL AS empty_is_null FROM jp_edge WHERE false;
SELECT apivalue.journey_path(ts::timestamp, s COLLATE "C") AS path,
       apivalue.journey_path_times(ts::timestamp, s COLLATE "C") AS started
FROM jp_edge WHERE u = 1;

-- as a window aggregate: the path so far, row by row
SELECT ts, s, apivalue.journey_path(ts, s) OVER (ORDER BY ts, s ROWS UNBOUNDED PRECEDING) AS so_far
FROM jp_edge WHERE u = 4 ORDER BY ts;

-- bad input (serial, so errors do not carry a parallel-worker context line)
SET max_parallel_workers_per_gather = 0;
SELECT apivalue.journey_path(ts, s, 0) FROM jp_edge;
SELECT apivalue.journey_path(ts, s, 10001) FROM jp_edge;
SELECT apivalue.journey_path(ts, s, NULL) FROM jp_edge;
SELECT apivalue.journey_path(ts, s, u) FROM jp_edge WHERE u IN (1, 3);
SELECT apivalue.journey_path_from(ts, s, NULL) FROM jp_edge;
SELECT apivalue.journey_path_to(ts, s, s) FROM jp_edge WHERE u = 4;
SELECT apivalue.journey_path(ts, s) FROM (VALUES ('infinity'::timestamptz, 'a')) v(ts, s);
RESET max_parallel_workers_per_gather;
DROP TABLE jp_edge;

-- Randomized differential test.  Coarse timestamps make many ties; labels
-- differ in case and accents so ties exercise the collation; rows are
-- stored shuffled.  Some users have thousands of events, so compaction and
-- (in the parallel run) combine/serialize of large states happen.
SELECT setseed(0.4242);
CREATE TABLE jp_rand (u int, ts timestamptz, s text);
INSERT INTO jp_rand
SELECT u, CASE WHEN random() < 0.02 THEN NULL
               ELSE '2024-03-01'::timestamptz + (floor(random() * n * 3) * interval '1 minute') END,
       CASE WHEN random() < 0.02 THEN NULL
            ELSE (ARRAY['home','search','Search','cart','checkout','pay','café','cafe','b','B'])
                   [1 + floor(random() * random() * 10)::int] END
FROM (SELECT u, CASE WHEN u % 50 = 0 THEN 3000 ELSE floor(random() * 40)::int END AS n
      FROM generate_series(1, 400) u) g,
     LATERAL generate_series(1, n) i
ORDER BY random();
ANALYZE jp_rand;

\i test/data/diff.sql

-- reference: array_agg(step ORDER BY ts, step), then collapse in SQL
CREATE FUNCTION pg_temp.jp_collapse(arr text[], ts timestamptz[], OUT path text[], OUT started timestamptz[])
LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(e ORDER BY i), array_agg(t ORDER BY i)
  FROM (SELECT e, t, i, e IS DISTINCT FROM lag(e) OVER (ORDER BY i) AS new
        FROM unnest(arr, ts) WITH ORDINALITY AS z(e, t, i)) x
  WHERE new
$$;
CREATE TEMP VIEW jp_ref AS
  SELECT u, array_agg(s ORDER BY ts, s) AS arr, array_agg(ts ORDER BY ts, s) AS tss
  FROM jp_rand WHERE ts IS NOT NULL AND s IS NOT NULL GROUP BY u;

SELECT 'plain' AS variant, * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.journey_path(ts, s)::text || apivalue.journey_path_times(ts, s)::text AS v
    FROM jp_rand GROUP BY u$$,
  $$SELECT u::text AS k, (c.path[1:20])::text || (c.started[1:20])::text AS v
    FROM jp_ref, pg_temp.jp_collapse(arr, tss) c$$);
SELECT 'max_steps 3' AS variant, * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.journey_path(ts, s, 3)::text AS v FROM jp_rand GROUP BY u$$,
  $$SELECT u::text AS k, (c.path[1:3])::text AS v FROM jp_ref, pg_temp.jp_collapse(arr, tss) c$$);
SELECT 'ordered input' AS variant, * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.journey_path(ts, s, 7 ORDER BY ts, s)::text AS v FROM jp_rand GROUP BY u$$,
  $$SELECT u::text AS k, (c.path[1:7])::text AS v FROM jp_ref, pg_temp.jp_collapse(arr, tss) c$$);
SELECT 'from search' AS variant, * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.journey_path_from(ts, s, 'search', 5)::text
                         || apivalue.journey_path_from_times(ts, s, 'search', 5)::text AS v
    FROM jp_rand GROUP BY u$$,
  $$SELECT u::text AS k, (c.path[1:5])::text || (c.started[1:5])::text AS v
    FROM jp_ref, LATERAL (SELECT array_position(arr, 'search') AS p) f,
         pg_temp.jp_collapse(arr[f.p:], tss[f.p:]) c
    WHERE f.p IS NOT NULL
    UNION ALL
    SELECT u::text, NULL FROM jp_ref WHERE array_position(arr, 'search') IS NULL$$);
SELECT 'from search, ordered input' AS variant, * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.journey_path_from(ts, s, 'search', 3 ORDER BY ts, s)::text AS v
    FROM jp_rand GROUP BY u$$,
  $$SELECT u::text AS k, (c.path[1:3])::text AS v
    FROM jp_ref, LATERAL (SELECT array_position(arr, 'search') AS p) f,
         pg_temp.jp_collapse(arr[f.p:], tss[f.p:]) c
    WHERE f.p IS NOT NULL
    UNION ALL
    SELECT u::text, NULL FROM jp_ref WHERE array_position(arr, 'search') IS NULL$$);
SELECT 'to pay' AS variant, * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.journey_path_to(ts, s, 'pay', 4)::text
                         || apivalue.journey_path_to_times(ts, s, 'pay', 4)::text AS v
    FROM jp_rand GROUP BY u$$,
  $$SELECT u::text AS k, (c.path[greatest(1, cardinality(c.path) - 3):])::text
                    || (c.started[greatest(1, cardinality(c.path) - 3):])::text AS v
    FROM jp_ref, LATERAL (SELECT max(i) AS p FROM unnest(arr) WITH ORDINALITY z(e, i) WHERE e = 'pay') l,
         pg_temp.jp_collapse(arr[:l.p], tss[:l.p]) c
    WHERE l.p IS NOT NULL
    UNION ALL
    SELECT u::text, NULL FROM jp_ref WHERE NOT ('pay' = ANY (arr))$$);
SELECT 'timestamp' AS variant, * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.journey_path(ts::timestamp, s, 6)::text AS v FROM jp_rand GROUP BY u$$,
  $$SELECT u::text AS k, (c.path[1:6])::text AS v FROM jp_ref, pg_temp.jp_collapse(arr, tss) c$$);

-- The same answers when partial aggregation is forced in this session
-- (workers build states, serialize them, the leader combines them).
CREATE TEMP TABLE jp_serial AS
  SELECT u, apivalue.journey_path(ts, s, 15) AS p, apivalue.journey_path_to(ts, s, 'cart') AS t
  FROM jp_rand GROUP BY u;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
CREATE FUNCTION pg_temp.plan_has(q text, what text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    IF l LIKE '%' || what || '%' THEN RETURN true; END IF;
  END LOOP;
  RETURN false;
END $$;
SELECT pg_temp.plan_has($$SELECT u, apivalue.journey_path(ts, s, 15) FROM jp_rand GROUP BY u$$,
                        'Partial') AS partial_aggregation;
SELECT count(*) AS users, count(*) FILTER (WHERE a.p IS DISTINCT FROM b.p OR a.t IS DISTINCT FROM b.t) AS mismatches
FROM jp_serial a
JOIN (SELECT u, apivalue.journey_path(ts, s, 15) AS p, apivalue.journey_path_to(ts, s, 'cart') AS t
      FROM jp_rand GROUP BY u) b USING (u);
RESET ALL;

-- Many distinct labels (the query-wide label pool rehashes; states hold
-- more labels and records than fit inline), random arrival order, serial and
-- with forced partial aggregation (serialize writes many labels).
CREATE TABLE jp_many AS
SELECT u, '2024-03-01'::timestamptz + floor(random() * 200) * interval '1 minute' AS ts,
       'L' || floor(random() * 400)::int AS s
FROM generate_series(1, 60) u, generate_series(1, 150) i
ORDER BY random();
SELECT 'many labels' AS variant, * FROM avtest.diff(
  $$SELECT u::text AS k, apivalue.journey_path(ts, s, 200)::text || apivalue.journey_path_times(ts, s, 200)::text AS v
    FROM jp_many GROUP BY u$$,
  $$SELECT u::text AS k, (c.path[1:200])::text || (c.started[1:200])::text AS v
    FROM (SELECT u, array_agg(s ORDER BY ts, s) AS arr, array_agg(ts ORDER BY ts, s) AS tss
          FROM jp_many GROUP BY u) r, pg_temp.jp_collapse(arr, tss) c$$);
CREATE TEMP TABLE jp_many_serial AS
  SELECT u, apivalue.journey_path(ts, s, 200) AS p FROM jp_many GROUP BY u;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT pg_temp.plan_has($$SELECT u, apivalue.journey_path(ts, s, 200) FROM jp_many GROUP BY u$$,
                        'Partial') AS partial_aggregation;
SELECT count(*) AS users, count(*) FILTER (WHERE a.p IS DISTINCT FROM b.p) AS mismatches
FROM jp_many_serial a
JOIN (SELECT u, apivalue.journey_path(ts, s, 200) AS p FROM jp_many GROUP BY u) b USING (u);
RESET ALL;
DROP TABLE jp_many;

-- One user with 200k events in time order: compaction keeps the state small
-- (a-b alternation: only the first 20 runs matter), the answer is exact.
SELECT apivalue.journey_path(ts, s) = (SELECT array_agg(CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END ORDER BY i)
                                       FROM generate_series(0, 19) i) AS alternating_ok
FROM (SELECT '2024-01-01'::timestamptz + i * interval '1 s' AS ts,
             CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END AS s
      FROM generate_series(0, 199999) i) x;

DROP VIEW jp_ref;
DROP TABLE jp_rand;
