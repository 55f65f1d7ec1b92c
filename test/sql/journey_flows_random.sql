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
\i test/data/journey_flows_ref.sql

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
  format($$SELECT * FROM pg_temp.journey_flows_ref('jf3_rand', %L, %s, %L, %s, %L)$$,
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
