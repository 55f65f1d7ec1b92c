-- What users do right after signup -> create_key, counted across users.
SELECT next_step, count(*) AS users
FROM (SELECT user_id, apivalue.sequence_next_node('forward', 'first_match', ts, event, true,
                                                  event = 'signup', event = 'create_key') AS next_step
      FROM {{events}} GROUP BY user_id) u
GROUP BY next_step ORDER BY users DESC, next_step NULLS FIRST
