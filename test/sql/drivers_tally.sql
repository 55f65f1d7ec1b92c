-- behavior_tally (the per-behaviour 2x2 counts value_drivers is built on)
-- against plain SQL (unnest, one count per row and behaviour) on random
-- per-user rows with NULL outcomes, NULL arrays, NULL and repeated
-- elements, several groups; rows in random order so that parallel workers
-- see parts of every group (combine and serialize run in the parallel
-- pass); then hand-made edge cases.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

SELECT setseed(0.47);
CREATE TEMP TABLE drv_tally_gen AS
SELECT r AS rid, r % 3 AS seg,
       CASE WHEN random() < 0.05 THEN NULL
            ELSE ARRAY(SELECT CASE WHEN random() < 0.03 THEN NULL
                                   ELSE (ARRAY['GET /a', 'GET /b', 'POST /c', 'b', 'B', 'é', '', 'GET /a 5xx'])[1 + floor(random() * 8)::int] END
                         FROM generate_series(1, floor(random() * 6)::int + r * 0)) END AS behaviors,
       CASE WHEN random() < 0.07 THEN NULL ELSE random() < 0.3 END AS outcome,
       CASE WHEN random() < 0.2 THEN NULL ELSE random() < 0.25 END AS server_errors,
       CASE WHEN random() < 0.2 THEN NULL ELSE random() < 0.4 END AS slow
  FROM generate_series(1, 3000) r;
CREATE TABLE drv_tally_users AS SELECT * FROM drv_tally_gen ORDER BY random();
ANALYZE drv_tally_users;

-- per group and behaviour: users with it, outcomes among them
SELECT * FROM avtest.diff(
  $a$SELECT t.seg || '/' || x.b AS k, x.n || ',' || x.o AS v
       FROM (SELECT seg, apivalue.behavior_tally(behaviors, outcome, server_errors, slow) AS r
               FROM drv_tally_users GROUP BY seg) t,
            unnest((t.r).behaviors, (t.r).users_with, (t.r).outcomes_with) AS x(b, n, o)$a$,
  $r$SELECT seg || '/' || b AS k,
            count(DISTINCT rid) || ',' || count(DISTINCT rid) FILTER (WHERE outcome) AS v
       FROM drv_tally_users, unnest(behaviors) AS b
      WHERE outcome IS NOT NULL AND b IS NOT NULL
      GROUP BY seg, b$r$);

-- per group: totals and the two signals
SELECT * FROM avtest.diff(
  $a$SELECT seg::text AS k,
            concat_ws(',', (r).users, (r).outcomes, (r).error_users, (r).error_outcomes,
                      (r).slow_users, (r).slow_outcomes) AS v
       FROM (SELECT seg, apivalue.behavior_tally(behaviors, outcome, server_errors, slow) AS r
               FROM drv_tally_users GROUP BY seg) t$a$,
  $r$SELECT seg::text AS k,
            concat_ws(',', count(*), count(*) FILTER (WHERE outcome),
                      count(*) FILTER (WHERE server_errors), count(*) FILTER (WHERE server_errors AND outcome),
                      count(*) FILTER (WHERE slow), count(*) FILTER (WHERE slow AND outcome)) AS v
       FROM drv_tally_users WHERE outcome IS NOT NULL GROUP BY seg$r$);

-- the behaviours come in byte order, arrays element-wise aligned
SELECT (r).behaviors = ARRAY(SELECT d.b FROM (SELECT DISTINCT b FROM drv_tally_users, unnest(behaviors) b
                                                 WHERE outcome IS NOT NULL AND b IS NOT NULL) d
                               ORDER BY d.b COLLATE "C") AS byte_order,
       cardinality((r).behaviors) = cardinality((r).users_with)
         AND cardinality((r).behaviors) = cardinality((r).outcomes_with) AS aligned
  FROM (SELECT apivalue.behavior_tally(behaviors, outcome, server_errors, slow) AS r FROM drv_tally_users) t;

-- no rows: empty arrays and zeros
SELECT (apivalue.behavior_tally(behaviors, outcome, server_errors, slow)).*
  FROM drv_tally_users WHERE false;
-- only rows with a NULL outcome: nothing counted
SELECT (apivalue.behavior_tally(b, o, e, s)).*
  FROM (VALUES (ARRAY['x'], NULL::boolean, true, true)) v(b, o, e, s);
-- one behaviour that every user has, repeated and with NULL elements
SELECT (apivalue.behavior_tally(b, o, e, s)).*
  FROM (VALUES (ARRAY['x', 'x'], true, NULL::boolean, NULL::boolean),
               (ARRAY[NULL, 'x'], false, false, true),
               (ARRAY['x'], true, true, false)) v(b, o, e, s);
-- NULL and empty arrays are users without behaviours; byte order ('B' < 'a' < 'b' < 'é')
SELECT (apivalue.behavior_tally(b, o, e, s)).*
  FROM (VALUES (NULL::text[], true, true, NULL::boolean),
               ('{}'::text[], false, true, NULL),
               (ARRAY['b', 'a', 'é'], true, false, NULL),
               (ARRAY['B', 'b'], false, NULL, NULL)) v(b, o, e, s);

-- value_drivers over a table without users: no behaviour rows, the signal rows with zero users
CREATE TABLE drv_tally_empty (user_id int, ts timestamptz, endpoint text, status int);
SELECT behavior, kind, users_with, users_without, outcomes_with, outcomes_without, p_value, test, rank
  FROM apivalue.value_drivers('drv_tally_empty', 'user_id', 'ts', 'endpoint', $$endpoint = 'upgrade'$$,
                              status_column => 'status')
 ORDER BY kind, behavior;

DROP TABLE drv_tally_users, drv_tally_empty;
