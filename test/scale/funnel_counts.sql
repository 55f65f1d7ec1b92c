-- pushdown: partial
-- The funnel chart: per-user levels (pushed down with the users), then
-- funnel_counts across users per plan tier, partially on the workers.
SELECT plan_tier, apivalue.funnel_counts(level, 4)
FROM (SELECT user_id, min(plan_tier) AS plan_tier,
             apivalue.window_funnel('14 days', ts, event = 'signup', event = 'create_key',
                                    event = 'first_call', event = 'upgrade') AS level
      FROM {{events}} GROUP BY user_id) u
GROUP BY plan_tier ORDER BY plan_tier
