-- Many behaviours: users with dozens of distinct behaviours (a state's
-- behaviours are found through its index above 8) out of several hundred
-- names (the call site's name dictionary grows its index several times),
-- names of every length including the empty one, against plain-SQL
-- references.  Rows are stored in random order, so the parallel pass
-- combines states whose names were interned in different dictionaries.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

SELECT setseed(0.57);
CREATE TEMP TABLE drv_many_gen AS
SELECT u AS user_id,
       timestamptz '2024-05-01 00:00+00' + (u % 10) * interval '1 day'
         + random() * interval '12 days' AS ts,
       CASE WHEN random() < 0.02 THEN ''
            ELSE repeat(chr(97 + floor(random() * 26)::int), 1 + floor(random() * 3)::int)
                 || '/' || floor(random() * (20 + u % 300))::int END AS behavior,
       random() < 0.01 AS outcome
  FROM generate_series(1, 120) u, generate_series(1, 90) k;
CREATE TABLE drv_many_events AS SELECT * FROM drv_many_gen ORDER BY random();
ANALYZE drv_many_events;

SELECT count(DISTINCT behavior) > 300 AS many_names,
       (SELECT max(n) FROM (SELECT count(DISTINCT behavior) AS n FROM drv_many_events GROUP BY user_id) x) > 40 AS many_per_user
  FROM drv_many_events;

-- behavior_counts: every behaviour of the first 168 hours with its events
SELECT * FROM avtest.diff(
  $$ SELECT user_id::text AS k, apivalue.behavior_counts(ts, behavior, '7 days')::text AS v
       FROM drv_many_events GROUP BY user_id $$,
  $$ WITH fu AS (SELECT user_id, min(ts) AS f FROM drv_many_events GROUP BY user_id)
     SELECT fu.user_id::text AS k,
            coalesce((SELECT jsonb_object_agg(behavior, n)
                        FROM (SELECT e.behavior, count(*) AS n FROM drv_many_events e
                               WHERE e.user_id = fu.user_id
                                 AND e.ts >= fu.f AND e.ts < fu.f + interval '168 hours'
                               GROUP BY e.behavior) x), '{}')::text AS v
       FROM fu $$);

-- driver_features: behaviours done at least twice in the first 120 hours,
-- in byte order, and an outcome after the window
SELECT * FROM avtest.diff(
  $$ SELECT user_id::text AS k, (s).behaviors::text || ' ' || (s).outcome AS v
       FROM (SELECT user_id, apivalue.driver_features(ts, behavior, outcome, NULL, NULL, '120 hours', NULL,
                                                      2, NULL, NULL, false, NULL) AS s
               FROM drv_many_events GROUP BY user_id) a $$,
  $$ WITH fu AS (SELECT user_id, min(ts) + interval '120 hours' AS w_end FROM drv_many_events GROUP BY user_id)
     SELECT fu.user_id::text AS k,
            coalesce((SELECT array_agg(behavior ORDER BY behavior::bytea)
                        FROM (SELECT e.behavior FROM drv_many_events e
                               WHERE e.user_id = fu.user_id AND e.ts < fu.w_end
                               GROUP BY e.behavior HAVING count(*) >= 2) x), '{}')::text
            || ' ' || EXISTS (SELECT FROM drv_many_events e
                               WHERE e.user_id = fu.user_id AND e.outcome AND e.ts >= fu.w_end) AS v
       FROM fu $$);

-- value_drivers over all of them: the per-behaviour 2x2 counts
SELECT * FROM avtest.diff(
  $$ SELECT behavior AS k, users_with || ' ' || outcomes_with || ' ' || users_without || ' ' || outcomes_without AS v
       FROM apivalue.value_drivers('drv_many_events', 'user_id', 'ts', 'behavior', 'outcome',
                                   '120 hours', 1, 5) $$,
  $$ WITH fu AS (SELECT user_id, min(ts) + interval '120 hours' AS w_end FROM drv_many_events GROUP BY user_id),
          o AS (SELECT fu.user_id, EXISTS (SELECT FROM drv_many_events e
                                            WHERE e.user_id = fu.user_id AND e.outcome AND e.ts >= fu.w_end) AS y
                  FROM fu),
          ub AS (SELECT e.behavior, e.user_id FROM drv_many_events e JOIN fu USING (user_id)
                  WHERE e.ts < fu.w_end GROUP BY e.behavior, e.user_id),
          tot AS (SELECT count(*) AS n, count(*) FILTER (WHERE y) AS k FROM o)
     SELECT ub.behavior AS k,
            count(*) || ' ' || count(*) FILTER (WHERE o.y) || ' ' || (min(tot.n) - count(*)) || ' '
            || (min(tot.k) - count(*) FILTER (WHERE o.y)) AS v
       FROM ub JOIN o USING (user_id) CROSS JOIN tot GROUP BY ub.behavior $$);

DROP TABLE drv_many_events;
