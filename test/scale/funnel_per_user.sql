-- pushdown: full
-- fdw: not shipped (a text constant argument gives the aggregate the default input collation, which postgres_fdw ships only when it comes from a column)
-- Per-user funnel level and step times: grouped by the distribution column.
SELECT user_id,
       apivalue.window_funnel('14 days', ts, event = 'signup', event = 'create_key', event = 'first_call', event = 'upgrade'),
       apivalue.window_funnel_times('14 days', 'strict_order', ts, event = 'signup', event = 'create_key', event = 'first_call')
FROM {{events}} GROUP BY user_id ORDER BY user_id
