-- title: value_drivers over event (outcome upgrade, 7 days) vs one join and GROUP BY (no index needed)
-- The hand query is the competent generic plain SQL: one pass for each
-- user's first event and last upgrade, a second pass joined to it for the
-- (user, behaviour) pairs of the first 168 hours, then one GROUP BY per
-- behaviour.  It needs no list of behaviours and no index.  The statistics
-- of the few 2x2 tables use apivalue's statistics functions in both queries,
-- so the answers are the same, row for row.
-- apivalue:
SELECT * FROM apivalue.value_drivers('sample.events', 'user_id', 'ts', 'event', $$event = 'upgrade'$$,
                                     '7 days', 1, 5)
-- hand:
WITH fu AS MATERIALIZED (
  SELECT user_id, min(ts) + interval '168 hours' AS w_end,
         coalesce(max(ts) FILTER (WHERE event = 'upgrade') >= min(ts) + interval '168 hours', false) AS outcome
    FROM sample.events GROUP BY user_id
), ub AS (
  SELECT e.event, e.user_id, bool_or(fu.outcome) AS outcome
    FROM sample.events e JOIN fu ON fu.user_id = e.user_id
   WHERE e.ts < fu.w_end
   GROUP BY e.event, e.user_id
), tot AS (
  SELECT count(*) AS n, count(*) FILTER (WHERE fu.outcome) AS k FROM fu
), c AS (
  SELECT ub.event AS behavior, count(*) AS n_with, count(*) FILTER (WHERE ub.outcome) AS k_with
    FROM ub GROUP BY ub.event
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
