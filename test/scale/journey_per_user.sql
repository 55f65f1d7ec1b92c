-- pushdown: full
SELECT user_id, apivalue.journey_path(ts, event, 8)
FROM {{events}} GROUP BY user_id ORDER BY user_id
