-- _journey_flow_edges, the aggregate behind journey_flows: hand-checked
-- paths, medians against percentile_cont, folding into 'other' (also when a
-- real step is called 'other'), cutting at max_depth, bad input, and a
-- partial aggregation (combine, serialize, deserialize) against the serial
-- answer.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET TimeZone = 'UTC';

CREATE TABLE jfe_paths (id int, steps text[], times timestamptz[]);
INSERT INTO jfe_paths VALUES
  (1, '{a,b}',   '{"2024-01-01 00:00","2024-01-01 00:01"}'),
  (2, '{a,b,c}', '{"2024-01-01 00:00","2024-01-01 00:03","2024-01-01 01:03"}'),
  (3, '{a}',     '{"2024-01-01 00:00"}'),
  (4, NULL, NULL),
  (5, '{}', '{}'),
  (6, '{a,b,c,d,e}', '{"2024-01-02 00:00","2024-01-03 02:00","2024-01-03 02:00","2024-01-04","2024-01-05"}');
-- depth 1: a -> b (3 paths: 1, 3 and 26 hours: median 3 min), a -> end (1)
-- depth 2: b -> c (2 paths: 1 hour and 0: median 30 min), b -> end (1)
-- path 6 is cut after 3 steps (max_depth 2): no edge c -> d
SELECT x.* FROM (SELECT apivalue._journey_flow_edges(steps, times, 2, 1) AS r FROM jfe_paths) p,
  unnest((p.r).depth, (p.r).from_step, (p.r).to_step, (p.r).users, (p.r).median_time)
    WITH ORDINALITY AS x(depth, from_step, to_step, users, median_time, ord)
ORDER BY ord;
-- max_depth 4: the drop at c is gone for path 6, which goes on to d and e
SELECT x.* FROM (SELECT apivalue._journey_flow_edges(steps, times, 4, 1) AS r FROM jfe_paths) p,
  unnest((p.r).depth, (p.r).from_step, (p.r).to_step, (p.r).users, (p.r).median_time)
    AS x(depth, from_step, to_step, users, median_time)
ORDER BY 1, 2, 3;

-- medians equal percentile_cont(0.5) of the intervals, odd and even counts,
-- times that cross days (justify_hours) and equal times
CREATE TABLE jfe_med (g int, steps text[], times timestamp[]);
SELECT setseed(0.31);
INSERT INTO jfe_med
SELECT g, '{x,y}', ARRAY[t0, t0 + floor(random() * random() * 200000) * interval '1 second']
FROM generate_series(1, 12) g, LATERAL generate_series(1, g) i,
     LATERAL (SELECT '2024-03-01'::timestamp + random() * interval '10 days' AS t0) t;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE a.med IS DISTINCT FROM r.med OR a.n <> r.n) AS mismatches
FROM (SELECT g, ((r).users)[1] AS n, ((r).median_time)[1] AS med
      FROM (SELECT g, apivalue._journey_flow_edges(steps, times, 1, 1) AS r FROM jfe_med GROUP BY g) x) a
JOIN (SELECT g, count(*) AS n,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY times[2] - times[1]) AS med
      FROM jfe_med GROUP BY g) r USING (g);

-- folding: edges taken by fewer than min_users paths lead to 'other', and a
-- real step called 'other' is the same node
CREATE TABLE jfe_fold (steps text[], times timestamptz[]);
INSERT INTO jfe_fold VALUES
  ('{x,other,p}', '{"2024-01-01 00:00","2024-01-01 00:10","2024-01-01 00:20"}'),
  ('{x,q,p}',     '{"2024-01-01 00:00","2024-01-01 00:20","2024-01-01 00:25"}'),
  ('{x,r}',       '{"2024-01-01 00:00","2024-01-01 00:30"}'),
  ('{x,s,p}',     '{"2024-01-01 00:00","2024-01-01 00:01","2024-01-01 00:02"}'),
  ('{x,s,p}',     '{"2024-01-01 00:00","2024-01-01 00:02","2024-01-01 00:04"}');
-- min_users 2: x -> other (3 paths: other, q, r), x -> s (2); then
-- other -> p (2), other -> end (1), s -> p (2)
SELECT x.* FROM (SELECT apivalue._journey_flow_edges(steps, times, 3, 2) AS r FROM jfe_fold) p,
  unnest((p.r).depth, (p.r).from_step, (p.r).to_step, (p.r).users, (p.r).median_time)
    AS x(depth, from_step, to_step, users, median_time)
ORDER BY 1, 2, 3;
-- min_users 3: depth 1 folds x -> s too; depth 2 counts other -> p: 4 paths
SELECT x.* FROM (SELECT apivalue._journey_flow_edges(steps, times, 2, 3) AS r FROM jfe_fold) p,
  unnest((p.r).depth, (p.r).from_step, (p.r).to_step, (p.r).users, (p.r).median_time)
    AS x(depth, from_step, to_step, users, median_time)
ORDER BY 1, 2, 3;

-- no rows, or only NULL paths: NULL
SELECT apivalue._journey_flow_edges(steps, times, 2, 1) IS NULL AS empty FROM jfe_paths WHERE id > 100;
SELECT apivalue._journey_flow_edges(steps, times, 2, 1) IS NULL AS only_null FROM jfe_paths WHERE id = 4;

-- bad input
SELECT apivalue._journey_flow_edges('{a,b}', '{"2024-01-01"}'::timestamptz[], 2, 1);
SELECT apivalue._journey_flow_edges('{a,NULL}', '{"2024-01-01","2024-01-02"}'::timestamptz[], 2, 1);
SELECT apivalue._journey_flow_edges('{a,b}', '{"2024-01-01",NULL}'::timestamptz[], 2, 1);
SELECT apivalue._journey_flow_edges('{a,b}', '{1,2}'::int[], 2, 1);
SELECT apivalue._journey_flow_edges('{{a,b}}', '{{"2024-01-01","2024-01-02"}}'::timestamptz[], 2, 1);
SELECT apivalue._journey_flow_edges('{a,b}', '{"2024-01-01",infinity}'::timestamptz[], 2, 1);
SELECT apivalue._journey_flow_edges('{a}', '{"2024-01-01"}'::timestamptz[], 0, 1);
SELECT apivalue._journey_flow_edges('{a}', '{"2024-01-01"}'::timestamptz[], 51, 1);
SELECT apivalue._journey_flow_edges('{a}', '{"2024-01-01"}'::timestamptz[], NULL, 1);
SELECT apivalue._journey_flow_edges('{a}', '{"2024-01-01"}'::timestamptz[], 2, 0);
SELECT apivalue._journey_flow_edges(steps, times, id, 1) FROM jfe_paths WHERE id IN (1, 2);

-- partial aggregation in parallel workers (combine, serialize, deserialize)
-- gives the serial answer
CREATE TABLE jfe_big AS
SELECT g, (ARRAY['a','b','c','other','d'])[1 + (g * 7 + i) % 5] AS step,
       '2024-01-01'::timestamptz + ((g * 13 + i * 17) % 97) * interval '1 minute' AS ts
FROM generate_series(1, 3000) g, generate_series(1, 1 + g % 6) i;
CREATE TEMP TABLE jfe_paths_big AS
SELECT g % 4 AS part, apivalue.journey_path(ts, step, 4) AS steps, apivalue.journey_path_times(ts, step, 4) AS times
FROM jfe_big GROUP BY g;
CREATE TABLE jfe_paths_par AS SELECT * FROM jfe_paths_big;
ANALYZE jfe_paths_par;
CREATE TEMP TABLE jfe_serial AS
SELECT part, apivalue._journey_flow_edges(steps, times, 3, 40)::text AS r FROM jfe_paths_par GROUP BY part;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
SELECT count(*) AS parts,
       count(*) FILTER (WHERE s.r IS DISTINCT FROM p.r) AS mismatches
FROM jfe_serial s
JOIN (SELECT part, apivalue._journey_flow_edges(steps, times, 3, 40)::text AS r
      FROM jfe_paths_par GROUP BY part) p USING (part);
RESET enable_hashagg;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
DROP TABLE jfe_paths, jfe_med, jfe_fold, jfe_big, jfe_paths_par;
