-- pushdown: full
-- fdw: not shipped (a text constant argument gives the aggregate the default input collation, which postgres_fdw ships only when it comes from a column)
SELECT user_id, apivalue.retention(event = 'signup', event = 'first_call', event = 'api_call', event = 'upgrade'),
       apivalue.retention_activity(ts, event = 'signup', event = 'api_call', 8, 'week', 'UTC')
FROM {{events}} GROUP BY user_id ORDER BY user_id
