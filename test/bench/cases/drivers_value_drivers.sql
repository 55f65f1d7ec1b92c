-- title: value_drivers over event (10 behaviours, outcome upgrade, 7 days) vs one CTE per behaviour, index (event, user_id, ts)
-- The hand query is the issue's baseline: the first event per user, then
-- one CTE per behaviour (users who did it in their first 168 hours) joined
-- to the outcome (an upgrade at or after the window end), over an index on
-- (event, user_id, ts) that serves every per-behaviour lookup (the previous
-- session's "with an index" figure, there on (endpoint, user_id, ts)).  The
-- statistics of the few 2x2 tables use apivalue's statistics functions in
-- both queries (a few rows), so the answers are the same, row for row.
-- setup:
CREATE INDEX IF NOT EXISTS events_event_user_ts ON sample.events (event, user_id, ts);
-- apivalue:
SELECT * FROM apivalue.value_drivers('sample.events', 'user_id', 'ts', 'event', $$event = 'upgrade'$$,
                                     '7 days', 1, 5)
-- hand:
WITH fu AS MATERIALIZED (
  SELECT user_id, min(ts) + interval '168 hours' AS w_end FROM sample.events GROUP BY user_id
), o AS MATERIALIZED (
  SELECT DISTINCT e.user_id FROM fu JOIN sample.events e
      ON e.user_id = fu.user_id AND e.event = 'upgrade' AND e.ts >= fu.w_end
), b0 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'api_call' AND e.ts < fu.w_end GROUP BY e.user_id
), b1 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'canary' AND e.ts < fu.w_end GROUP BY e.user_id
), b2 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'create_key' AND e.ts < fu.w_end GROUP BY e.user_id
), b3 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'experiment_exposure' AND e.ts < fu.w_end GROUP BY e.user_id
), b4 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'first_call' AND e.ts < fu.w_end GROUP BY e.user_id
), b5 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'invite_member' AND e.ts < fu.w_end GROUP BY e.user_id
), b6 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'revoke_key' AND e.ts < fu.w_end GROUP BY e.user_id
), b7 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'signup' AND e.ts < fu.w_end GROUP BY e.user_id
), b8 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'upgrade' AND e.ts < fu.w_end GROUP BY e.user_id
), b9 AS (
  SELECT e.user_id FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.event = 'view_docs' AND e.ts < fu.w_end GROUP BY e.user_id
), tot AS (
  SELECT count(*) AS n, count(o.user_id) AS k FROM fu LEFT JOIN o USING (user_id)
), c AS (
  SELECT 'api_call'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b0 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'canary'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b1 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'create_key'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b2 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'experiment_exposure'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b3 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'first_call'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b4 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'invite_member'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b5 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'revoke_key'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b6 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'signup'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b7 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'upgrade'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b8 LEFT JOIN o USING (user_id) HAVING count(*) > 0
  UNION ALL
  SELECT 'view_docs'::text AS behavior, count(*) AS n_with, count(o.user_id) AS k_with
    FROM b9 LEFT JOIN o USING (user_id) HAVING count(*) > 0
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
