-- title: sequence match per user: create_key then first_call (sequence_match) vs hand-written SQL
-- apivalue:
SELECT user_id, apivalue.sequence_match('(?1).*(?2)', ts, event = 'create_key', event = 'first_call')
FROM sample.events GROUP BY user_id;
-- hand:
SELECT user_id, coalesce(min(ts) FILTER (WHERE event = 'create_key') <= max(ts) FILTER (WHERE event = 'first_call'), false)
FROM sample.events GROUP BY user_id;
