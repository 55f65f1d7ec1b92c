-- pushdown: full
SELECT user_id, apivalue.journey_path_from(ts, event, 'create_key', 4),
       apivalue.journey_path_to_times(ts, event, 'first_call', 3),
       apivalue.journey_path_times(ts, event, 3)
FROM {{events}} GROUP BY user_id ORDER BY user_id
