-- clock_skew_summary and rollup(clock_skew_summary) when a group's partial
-- states are combined: parallel plans forced here (partial states pass
-- from workers to the leader), and partitionwise aggregation (one partial
-- state per partition and group, six per group here, combined in the
-- leader whether or not the plan is parallel).  The combine function merges
-- states that are in arrival order (in place, or into a larger state) and
-- concatenates the others; the answers are checked against plain SQL, and
-- the stored summaries against those of a plain serial plan, byte for byte.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql
SET timezone = 'UTC';

SELECT setseed(0.5);
-- 30 devices of 1 to ~600 events; devices 'o*' are stored in arrival order
-- (their partial states are sorted: merged), devices 'r*' in random order
-- (concatenated, sorted by the final).  Rows of every device are spread
-- over the whole table, so each process and partition sees most devices.
CREATE TABLE qsc_ev (id int, device text, ts timestamptz, sent_at timestamptz,
                     received_at timestamptz);
INSERT INTO qsc_ev
SELECT g, d, ts, sent_at, received_at
FROM (SELECT g, d, ts, ts + (random() * 900)::int * interval '1 ms' + skew AS sent_at,
             ts + (random() * 3000)::int * interval '1 ms' AS received_at
      FROM (SELECT g, CASE WHEN g % 2 = 0 THEN 'o' ELSE 'r' END || (g % 30) AS d,
                   timestamptz '2024-05-01' + (random() * 86400)::int * interval '1 s'
                     + CASE WHEN random() < 0.05 THEN interval '2 minutes' ELSE interval '0' END AS ts,
                   ((g % 30) - 15) * interval '3 s' AS skew
            FROM generate_series(1, 9000) g
            WHERE (g % 30) * (g % 30) * 7 >= g % 6000) x) y
ORDER BY CASE WHEN d LIKE 'o%' THEN 0 ELSE 1 END, received_at, random();
-- a few NULLs (skipped) and a device of one event
INSERT INTO qsc_ev VALUES (9001, 'o0', NULL, now(), now()), (9002, 'single', '2024-05-02', '2024-05-02 00:00:01', '2024-05-02 00:00:00');
ANALYZE qsc_ev;
SELECT sum(c) AS events, count(*) AS devices, min(c) AS fewest, max(c) AS most
FROM (SELECT device, count(*) AS c FROM qsc_ev GROUP BY device) x;

-- The reference: plain SQL per device.
CREATE VIEW qsc_ref AS
SELECT device AS k,
       concat_ws(' ', count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY sent_at - received_at),
                 max(greatest(sent_at - received_at, received_at - sent_at)),
                 count(*) FILTER (WHERE ts > received_at),
                 count(*) FILTER (WHERE ts < runmax)) AS v
FROM (SELECT device, ts, sent_at, received_at,
             max(ts) OVER (PARTITION BY device ORDER BY received_at, ts
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS runmax
      FROM qsc_ev WHERE ts IS NOT NULL) e
GROUP BY device;

CREATE FUNCTION pg_temp.qsc_answers(tbl text) RETURNS text LANGUAGE sql AS $$
  SELECT format($q$SELECT device AS k,
       concat_ws(' ', apivalue.event_count(s), apivalue.median_offset(s), apivalue.max_abs_offset(s),
                 apivalue.future_count(s), apivalue.out_of_order_count(s)) AS v
    FROM (SELECT device, apivalue.clock_skew_summary(ts, sent_at, received_at) AS s
          FROM %s GROUP BY device) g$q$, tbl) $$;
-- Per device, rolled up from per-(device, hour) summaries.
CREATE FUNCTION pg_temp.qsc_rollup(tbl text) RETURNS text LANGUAGE sql AS $$
  SELECT format($q$SELECT device AS k,
       concat_ws(' ', apivalue.event_count(s), apivalue.median_offset(s), apivalue.max_abs_offset(s),
                 apivalue.future_count(s), apivalue.out_of_order_count(s)) AS v
    FROM (SELECT device, apivalue.rollup(h) AS s
          FROM (SELECT device, date_trunc('hour', received_at) AS hr,
                       apivalue.clock_skew_summary(ts, sent_at, received_at) AS h
                FROM %s GROUP BY 1, 2) x
          GROUP BY device) g$q$, tbl) $$;
-- The stored summaries, as text.
CREATE FUNCTION pg_temp.qsc_stored(tbl text) RETURNS text LANGUAGE sql AS $$
  SELECT format($q$SELECT device AS k, md5(apivalue.clock_skew_summary(ts, sent_at, received_at)::text) AS v
    FROM %s GROUP BY device$q$, tbl) $$;
-- The plan's node types, to show that the plan is the one meant.
CREATE FUNCTION pg_temp.qsc_nodes(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || q INTO plan;
  RETURN (SELECT string_agg(DISTINCT n #>> '{}', ', ' ORDER BY n #>> '{}')
          FROM jsonb_path_query(plan, 'strict $.**."Partial Mode"') n);
END $$;

-- The serial plan's stored summaries, for the comparisons below.
SET max_parallel_workers_per_gather = 0;
CREATE TABLE qsc_serial AS
SELECT device AS k, md5(apivalue.clock_skew_summary(ts, sent_at, received_at)::text) AS v
FROM qsc_ev GROUP BY device;
SELECT * FROM avtest.diff(pg_temp.qsc_answers('qsc_ev'), 'SELECT * FROM qsc_ref');

-- Parallel: two workers, the leader only combining.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_sort = off;
SELECT pg_temp.qsc_nodes(pg_temp.qsc_answers('qsc_ev')) AS parallel_plan;
SELECT * FROM avtest.diff(pg_temp.qsc_answers('qsc_ev'), 'SELECT * FROM qsc_ref');
SELECT * FROM avtest.diff(pg_temp.qsc_rollup('qsc_ev'), 'SELECT * FROM qsc_ref');
SELECT * FROM avtest.diff(pg_temp.qsc_stored('qsc_ev'), 'SELECT * FROM qsc_serial');
RESET enable_sort;
-- The same, grouped by sorting (GroupAggregate above the Gather).
SET enable_hashagg = off;
SELECT * FROM avtest.diff(pg_temp.qsc_answers('qsc_ev'), 'SELECT * FROM qsc_ref');
SELECT * FROM avtest.diff(pg_temp.qsc_stored('qsc_ev'), 'SELECT * FROM qsc_serial');
RESET enable_hashagg;

-- Partitionwise: six partitions, each device in all of them, so the leader
-- combines six partial states per device (serially, then in parallel).
CREATE TABLE qsc_part (LIKE qsc_ev) PARTITION BY HASH (id);
CREATE TABLE qsc_part0 PARTITION OF qsc_part FOR VALUES WITH (MODULUS 6, REMAINDER 0);
CREATE TABLE qsc_part1 PARTITION OF qsc_part FOR VALUES WITH (MODULUS 6, REMAINDER 1);
CREATE TABLE qsc_part2 PARTITION OF qsc_part FOR VALUES WITH (MODULUS 6, REMAINDER 2);
CREATE TABLE qsc_part3 PARTITION OF qsc_part FOR VALUES WITH (MODULUS 6, REMAINDER 3);
CREATE TABLE qsc_part4 PARTITION OF qsc_part FOR VALUES WITH (MODULUS 6, REMAINDER 4);
CREATE TABLE qsc_part5 PARTITION OF qsc_part FOR VALUES WITH (MODULUS 6, REMAINDER 5);
INSERT INTO qsc_part SELECT * FROM qsc_ev;
ANALYZE qsc_part;
SET enable_partitionwise_aggregate = on;
SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.qsc_nodes(pg_temp.qsc_answers('qsc_part')) AS partitionwise_plan;
SELECT * FROM avtest.diff(pg_temp.qsc_answers('qsc_part'), 'SELECT * FROM qsc_ref');
SELECT * FROM avtest.diff(pg_temp.qsc_rollup('qsc_part'), 'SELECT * FROM qsc_ref');
SELECT * FROM avtest.diff(pg_temp.qsc_stored('qsc_part'), 'SELECT * FROM qsc_serial');
SET max_parallel_workers_per_gather = 2;
SELECT * FROM avtest.diff(pg_temp.qsc_answers('qsc_part'), 'SELECT * FROM qsc_ref');
SELECT * FROM avtest.diff(pg_temp.qsc_stored('qsc_part'), 'SELECT * FROM qsc_serial');
RESET ALL;

-- Edge cases by hand, partitionwise: a device whose events are all in one
-- partition, one of one event, and equal events in several partitions.
SET timezone = 'UTC';
CREATE TABLE qsc_small (id int, device text, ts timestamptz, sent_at timestamptz,
                        received_at timestamptz) PARTITION BY LIST (id);
CREATE TABLE qsc_small1 PARTITION OF qsc_small FOR VALUES IN (1);
CREATE TABLE qsc_small2 PARTITION OF qsc_small FOR VALUES IN (2);
CREATE TABLE qsc_small3 PARTITION OF qsc_small FOR VALUES IN (3);
INSERT INTO qsc_small VALUES
  (1, 'a', '2024-01-01 00:00:05', '2024-01-01 00:00:06', '2024-01-01 00:00:07'),
  (2, 'a', '2024-01-01 00:00:01', '2024-01-01 00:00:02', '2024-01-01 00:00:08'),
  (3, 'a', '2024-01-01 00:00:09', '2024-01-01 00:00:09', '2024-01-01 00:00:03'),
  (1, 'b', '2024-01-01 00:00:00', '2024-01-01 00:00:10', '2024-01-01 00:00:00'),
  (1, 'c', '2024-01-01 00:00:00', '2024-01-01 00:00:01', '2024-01-01 00:00:02'),
  (2, 'c', '2024-01-01 00:00:00', '2024-01-01 00:00:01', '2024-01-01 00:00:02'),
  (3, 'c', '2024-01-01 00:00:00', '2024-01-01 00:00:01', '2024-01-01 00:00:02');
-- (not analyzed: estimated large, the partitions are aggregated partially)
SET enable_partitionwise_aggregate = on;
-- a: arrival order 3 (ts :09), 1 (ts :05, out of order), 2 (ts :01, out of
-- order); offsets +6 s, -1 s, -6 s: lower median -1 s; one in the future.
-- b: one event, offset +10 s.  c: three equal events.
SELECT device, apivalue.event_count(s), apivalue.median_offset(s), apivalue.max_abs_offset(s),
       apivalue.future_count(s), apivalue.out_of_order_count(s)
FROM (SELECT device, apivalue.clock_skew_summary(ts, sent_at, received_at) AS s
      FROM qsc_small GROUP BY device) g ORDER BY device;
-- The stored summaries are those of a plan without partial states.
SELECT pg_temp.qsc_nodes(pg_temp.qsc_stored('qsc_small')) AS partitionwise_plan;
CREATE TABLE qsc_small_pw AS
SELECT device, apivalue.clock_skew_summary(ts, sent_at, received_at)::text AS s FROM qsc_small GROUP BY device;
SET enable_partitionwise_aggregate = off;
SELECT device, p.s = apivalue.clock_skew_summary(ts, sent_at, received_at)::text AS same
FROM qsc_small JOIN qsc_small_pw p USING (device) GROUP BY device, p.s ORDER BY device;
RESET ALL;

DROP TABLE qsc_small, qsc_small_pw, qsc_part, qsc_serial;
DROP VIEW qsc_ref;
DROP TABLE qsc_ev;
