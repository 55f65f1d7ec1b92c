-- title: value_drivers over 32 behaviours (route + status class, or event; outcome upgrade, 7 days) vs one CTE per behaviour, indexes (behavior, user_id, ts) and (event, user_id, ts)
-- The issue's benchmark: ~30 behaviours, against the hand-written SQL that
-- answers the same question with one CTE per behaviour joined to the
-- outcome.  The behaviour column is what a team would analyse: for API
-- calls the route (method and path, ids and version folded: "POST
-- /items/{id}") with its status class ("GET /items 4xx"), for the other
-- events the event name; 32 distinct values, the same at 1M and 10M
-- events.  The setup stores it in a narrow copy of the events (user_id, ts,
-- event, behavior) with an index on (behavior, user_id, ts) that serves
-- every per-behaviour lookup of the hand query and one on (event, user_id,
-- ts) for its outcome lookup; the floor reads the same copy.  The hand query: the first event per user and the users with an
-- upgrade at or after their window end, both MATERIALIZED (used by every
-- behaviour), then per behaviour the users who did it in their first 168
-- hours, joined to the outcome.  The statistics of the 2x2 tables use
-- apivalue's statistics functions in both queries (a few rows), so the
-- answers are the same, row for row (checked at 1M events: every column of
-- all 32 rows equal, as text).
-- setup:
CREATE TABLE IF NOT EXISTS sample.events_b AS
  SELECT user_id, ts, event,
         CASE WHEN endpoint IS NULL THEN event
              ELSE split_part(endpoint, ' ', 1) || ' '
                   || regexp_replace(regexp_replace(split_part(endpoint, ' ', 2), '^/v[0-9]+', ''),
                                     '/(items|keys)/[^/]+', '/\1/{id}')
                   || CASE WHEN status >= 500 THEN ' 5xx' WHEN status >= 400 THEN ' 4xx' ELSE ' 2xx' END
         END AS behavior
    FROM sample.events;
CREATE INDEX IF NOT EXISTS events_b_behavior_user_ts ON sample.events_b (behavior, user_id, ts);
CREATE INDEX IF NOT EXISTS events_b_event_user_ts ON sample.events_b (event, user_id, ts);
VACUUM ANALYZE sample.events_b;
-- floor:
SELECT user_id, min(ts), max(ts) FROM sample.events_b GROUP BY user_id;
-- apivalue:
SELECT * FROM apivalue.value_drivers('sample.events_b', 'user_id', 'ts', 'behavior', $$event = 'upgrade'$$,
                                     '7 days', 1, 5)
-- hand:
WITH fu AS MATERIALIZED (
  SELECT user_id, min(ts) + interval '168 hours' AS w_end FROM sample.events_b GROUP BY user_id
), o AS MATERIALIZED (
  SELECT DISTINCT e.user_id FROM fu JOIN sample.events_b e
      ON e.user_id = fu.user_id AND e.event = 'upgrade' AND e.ts >= fu.w_end
), b0 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'DELETE /items/{id} 2xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b1 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'DELETE /items/{id} 4xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b2 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'DELETE /items/{id} 5xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b3 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /items 2xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b4 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /items 4xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b5 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /items 5xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b6 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /items/{id} 2xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b7 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /items/{id} 4xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b8 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /items/{id} 5xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b9 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /usage 2xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b10 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /usage 4xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b11 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'GET /usage 5xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b12 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /items 2xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b13 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /items 4xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b14 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /items 5xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b15 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /keys/{id}/rotate 2xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b16 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /keys/{id}/rotate 4xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b17 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /keys/{id}/rotate 5xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b18 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /search 2xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b19 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /search 4xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b20 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'POST /search 5xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b21 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'PUT /items/{id} 2xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b22 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'PUT /items/{id} 4xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b23 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'PUT /items/{id} 5xx' AND e.ts < fu.w_end GROUP BY e.user_id
), b24 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'canary' AND e.ts < fu.w_end GROUP BY e.user_id
), b25 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'create_key' AND e.ts < fu.w_end GROUP BY e.user_id
), b26 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'experiment_exposure' AND e.ts < fu.w_end GROUP BY e.user_id
), b27 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'invite_member' AND e.ts < fu.w_end GROUP BY e.user_id
), b28 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'revoke_key' AND e.ts < fu.w_end GROUP BY e.user_id
), b29 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'signup' AND e.ts < fu.w_end GROUP BY e.user_id
), b30 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'upgrade' AND e.ts < fu.w_end GROUP BY e.user_id
), b31 AS (
  SELECT e.user_id FROM sample.events_b e JOIN fu ON fu.user_id = e.user_id
   WHERE e.behavior = 'view_docs' AND e.ts < fu.w_end GROUP BY e.user_id
), tot AS (
  SELECT count(*) AS n, count(o.user_id) AS k FROM fu LEFT JOIN o USING (user_id)
), c AS (
  SELECT 'DELETE /items/{id} 2xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b0 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'DELETE /items/{id} 4xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b1 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'DELETE /items/{id} 5xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b2 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /items 2xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b3 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /items 4xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b4 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /items 5xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b5 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /items/{id} 2xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b6 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /items/{id} 4xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b7 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /items/{id} 5xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b8 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /usage 2xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b9 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /usage 4xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b10 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'GET /usage 5xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b11 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /items 2xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b12 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /items 4xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b13 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /items 5xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b14 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /keys/{id}/rotate 2xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b15 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /keys/{id}/rotate 4xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b16 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /keys/{id}/rotate 5xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b17 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /search 2xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b18 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /search 4xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b19 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'POST /search 5xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b20 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'PUT /items/{id} 2xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b21 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'PUT /items/{id} 4xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b22 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'PUT /items/{id} 5xx'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b23 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'canary'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b24 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'create_key'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b25 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'experiment_exposure'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b26 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'invite_member'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b27 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'revoke_key'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b28 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'signup'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b29 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'upgrade'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b30 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'view_docs'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b31 LEFT JOIN o USING (user_id) HAVING count(*) > 0
), s AS (
  SELECT c.behavior, c.n_with, tot.n - c.n_with AS n_without, c.k_with, tot.k - c.k_with AS k_without,
         tot.n AS n_all, tot.k AS k_all
    FROM c CROSS JOIN tot
), tt AS (
  SELECT s.*, tp.*,
         CASE WHEN s.n_with = 0 OR s.n_without = 0 THEN NULL
              WHEN LEAST(s.n_with, s.n_without)::float8 * LEAST(s.k_all, s.n_all - s.k_all) / s.n_all < 5 THEN 'fisher'
              ELSE 'z' END AS test,
         (s.n_with < 5 OR s.n_without < 5) AS flagged
    FROM s CROSS JOIN LATERAL apivalue.two_proportion_test(s.k_with, s.n_with, s.k_without, s.n_without) tp
), v AS (
  SELECT tt.*, CASE tt.test WHEN 'z' THEN tt.p_value
                 WHEN 'fisher' THEN apivalue.fisher_exact_p(tt.k_with, tt.n_with - tt.k_with, tt.k_without, tt.n_without - tt.k_without)
               END AS p,
         row_number() OVER (ORDER BY tt.behavior) AS ord
    FROM tt
), qv AS (
  SELECT apivalue.bh_qvalues(coalesce(array_agg(v.p ORDER BY v.ord), '{}')) AS q FROM v
), r AS (
  SELECT v.*, qv.q[v.ord] AS q_value,
         CASE WHEN NOT v.flagged AND v.p IS NOT NULL THEN
           row_number() OVER (PARTITION BY (NOT v.flagged AND v.p IS NOT NULL)
                              ORDER BY abs(v.phi) DESC NULLS LAST, v.p, v.behavior) END AS rnk
    FROM v CROSS JOIN qv
)
SELECT r.behavior, 'behavior' AS kind, r.n_with, r.n_without, r.k_with, r.k_without, r.rate1, r.rate2, r.diff,
       CASE WHEN r.rate2 > 0 THEN r.rate1 / r.rate2 END, r.p, r.test, r.phi, r.q_value, r.ci_low, r.ci_high,
       r.flagged, r.rnk::integer
  FROM r
 ORDER BY r.rnk NULLS LAST, abs(r.phi) DESC NULLS LAST, r.p NULLS LAST, r.behavior;
