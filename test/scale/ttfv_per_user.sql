-- pushdown: full
SELECT user_id,
       apivalue.time_to_first_value(ts, event = 'signup', event = 'first_call' AND status < 400),
       apivalue.time_to_first_value(ts, event = 'signup', event = 'api_call', interval '7 days'),
       apivalue.value_at_first(ts, event = 'first_call', endpoint)
FROM {{events}} GROUP BY user_id ORDER BY user_id
