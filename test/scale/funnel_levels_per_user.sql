-- pushdown: full
-- Per-user funnel level and retention flags (no text constant arguments, so
-- postgres_fdw ships these aggregates to the shards too).
SELECT user_id,
       apivalue.window_funnel('14 days', ts, event = 'signup', event = 'create_key', event = 'first_call', event = 'upgrade'),
       apivalue.retention(event = 'signup', event = 'first_call', event = 'api_call')
FROM {{events}} GROUP BY user_id ORDER BY user_id
