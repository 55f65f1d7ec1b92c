-- journey_flows on random data against an independent plain-SQL answer:
-- a timestamp (without time zone) column and a varchar step column, labels
-- that normalize_steps merges, a real step called 'other' (the label rare
-- edges are folded into), start_step NULL and not NULL, sessions, min_users
-- 1 and more, with and without normalize_steps.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET TimeZone = 'UTC';
\i test/data/diff.sql

SELECT setseed(0.4242);
CREATE TABLE jf3_rand (u int, ts timestamp, step varchar(40));
INSERT INTO jf3_rand
SELECT u, '2024-05-01'::timestamp + floor(random() * 4000) * interval '1 minute'
          + floor(random() * 3) * interval '1 second',
       (ARRAY['home','Home','search','/items/123','/items/987','cart','other','pay','help','  Search'])
         [1 + floor(random() * random() * 10)::int]
FROM generate_series(1, 400) u, LATERAL generate_series(1, 1 + (random() * 20)::int) i;
-- rows the function must skip
INSERT INTO jf3_rand VALUES (NULL, '2024-05-01', 'home'), (1, NULL, 'home'), (2, '2024-05-01', NULL);

-- The reference: labels normalized (or not) first, sessions with lag() and
-- a running sum, the path collapsed with window functions, rare edges folded
-- with one UPDATE per depth, edges counted with GROUP BY.
CREATE FUNCTION pg_temp.jf3_ref(start text, depth int, gap interval, min_users int, norm boolean)
RETURNS TABLE (k text, v text) LANGUAGE plpgsql AS $$
DECLARE dd int;
BEGIN
  IF norm AND start IS NOT NULL THEN start := apivalue.normalize_step(start); END IF;
  CREATE TEMP TABLE jf3_paths AS
  WITH l AS (
    SELECT u, ts, CASE WHEN norm THEN apivalue.normalize_step(step) ELSE step::text END AS step
    FROM jf3_rand WHERE u IS NOT NULL AND ts IS NOT NULL AND step IS NOT NULL),
  o AS (
    SELECT u, ts, step,
           CASE WHEN gap IS NULL THEN 0 ELSE
             sum(CASE WHEN prev IS NULL OR ts - prev > gap THEN 1 ELSE 0 END)
               OVER (PARTITION BY u ORDER BY ts, step) END AS sess
    FROM (SELECT u, ts, step, lag(ts) OVER (PARTITION BY u ORDER BY ts, step) AS prev FROM l) x),
  d AS (SELECT DISTINCT u, sess, ts, step FROM o),
  n AS (SELECT *, row_number() OVER (PARTITION BY u, sess ORDER BY ts, step) AS rn FROM d),
  f AS (SELECT n.*, min(rn) FILTER (WHERE step = start) OVER (PARTITION BY u, sess) AS first_rn FROM n),
  a AS (SELECT * FROM f WHERE start IS NULL OR rn >= first_rn),
  r AS (SELECT *, step IS DISTINCT FROM lag(step) OVER (PARTITION BY u, sess ORDER BY rn) AS new FROM a)
  SELECT u, sess, array_agg(step ORDER BY rn) AS steps, array_agg(ts ORDER BY rn) AS times,
         array_agg(step ORDER BY rn) AS labs
  FROM r WHERE new GROUP BY u, sess;
  UPDATE jf3_paths SET steps = steps[1:depth + 1], times = times[1:depth + 1], labs = labs[1:depth + 1];
  FOR dd IN 1 .. depth LOOP
    UPDATE jf3_paths p SET labs[dd + 1] = 'other'
    FROM (SELECT labs[dd] AS f, steps[dd + 1] AS t FROM jf3_paths WHERE cardinality(steps) > dd
          GROUP BY 1, 2 HAVING count(*) < min_users) rare
    WHERE rare.f = p.labs[dd] AND rare.t = p.steps[dd + 1];
  END LOOP;
  RETURN QUERY
  WITH e AS (
    SELECT i AS d, labs[i] AS f, labs[i + 1] AS t, times[i + 1] - times[i] AS dt
    FROM jf3_paths, generate_series(1, least(cardinality(steps), depth)) i),
  g AS (SELECT d, f, t, count(*) AS users, percentile_cont(0.5) WITHIN GROUP (ORDER BY dt) AS med
        FROM e GROUP BY d, f, t),
  nodes AS (SELECT d, f, sum(users) AS through, sum(users) FILTER (WHERE t IS NULL) AS dropped
            FROM g GROUP BY d, f)
  SELECT concat_ws('|', g.d, g.f, coalesce(g.t, '<drop>')),
         concat_ws('|', g.users, g.med, nodes.through, coalesce(nodes.dropped, 0),
                   round((coalesce(nodes.dropped, 0)::numeric / nodes.through), 12))
  FROM g JOIN nodes USING (d, f);
  DROP TABLE jf3_paths;
END $$;

SELECT label, d.* FROM (VALUES
  ('a all paths, depth 4', NULL, 4, NULL, 1, false),
  ('b normalized, depth 5', NULL, 5, NULL, 1, true),
  ('c normalized, from HOME, min_users 3', 'HOME', 4, NULL, 3, true),
  ('d from search, min_users 2', 'search', 3, NULL, 2, false),
  ('e sessions of 8 hours, min_users 5', NULL, 6, '8 hours', 5, false),
  ('f sessions, normalized, from cart, min_users 2', 'cart', 3, '1 day', 2, true),
  ('g depth 1, min_users 40', NULL, 1, NULL, 40, false),
  ('h from other, depth 2', 'other', 2, NULL, 1, false)
) c(label, start, depth, gap, min_users, norm),
LATERAL avtest.diff(
  format($$SELECT concat_ws('|', depth, from_step, coalesce(to_step, '<drop>')) AS k,
                  concat_ws('|', users, median_time, from_users, dropped_after,
                            round(dropped_share::numeric, 12)) AS v
           FROM apivalue.journey_flows('jf3_rand', 'u', 'ts', 'step', %L, %s, %L, %s, %L)$$,
         c.start, c.depth, c.gap, c.min_users, c.norm),
  format($$SELECT * FROM pg_temp.jf3_ref(%L, %s, %L, %s, %L)$$,
         c.start, c.depth, c.gap, c.min_users, c.norm)) d
ORDER BY label;

-- the rows come in the documented order: depth, users descending, labels
SELECT count(*) AS rows_checked,
       count(*) FILTER (WHERE rn <> pos) AS out_of_order
FROM (SELECT row_number() OVER () AS pos,
             row_number() OVER (ORDER BY depth, users DESC, from_step, to_step NULLS LAST) AS rn
      FROM apivalue.journey_flows('jf3_rand', 'u', 'ts', 'step', min_users => 3,
                                  normalize_steps => true)) x;

-- the aggregate by itself, on the same paths, equals the function's edges
SELECT count(*) AS edges,
       count(*) FILTER (WHERE f.depth IS NULL OR a.d IS NULL) AS mismatches
FROM (SELECT x.*
      FROM (SELECT apivalue._journey_flow_edges(steps, times, 3, 4) AS r
            FROM (SELECT apivalue.journey_path(ts, step::text, 4) AS steps,
                         apivalue.journey_path_times(ts, step::text, 4) AS times
                  FROM jf3_rand WHERE u IS NOT NULL GROUP BY u) p) r,
           unnest((r.r).depth, (r.r).from_step, (r.r).to_step, (r.r).users, (r.r).median_time)
             AS x(d, f, t, n, med)) a
FULL JOIN apivalue.journey_flows('jf3_rand', 'u', 'ts', 'step', max_depth => 3, min_users => 4) f
  ON f.depth = a.d AND f.from_step = a.f AND f.to_step IS NOT DISTINCT FROM a.t
 AND f.users = a.n AND f.median_time IS NOT DISTINCT FROM a.med;
DROP TABLE jf3_rand;
