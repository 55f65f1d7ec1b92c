-- pushdown: partial
-- The weekly retention matrix: per-user activity flags, then sum_arrays per
-- cohort week across users.
SELECT apivalue.period_start(cohort_ts, 'week', 'UTC') AS cohort, count(*) AS users,
       apivalue.sum_arrays(act) AS retained_by_week
FROM (SELECT min(ts) AS cohort_ts,
             apivalue.retention_activity(ts, true, true, 10, 'week', 'UTC') AS act
      FROM {{events}} GROUP BY user_id) u
GROUP BY 1 ORDER BY 1
