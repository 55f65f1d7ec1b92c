-- pushdown: full
-- fdw: not shipped (a text constant argument gives the aggregate the default input collation, which postgres_fdw ships only when it comes from a column)
SELECT user_id,
       apivalue.sequence_match('(?1).*(?2)(?t<=86400)', ts, event = 'create_key', event = 'first_call'),
       apivalue.sequence_count('(?1).*(?2)', ts, event = 'api_call', event = 'view_docs'),
       apivalue.sequence_next_node('forward', 'first_match', ts, event, true, event = 'signup', event = 'create_key')
FROM {{events}} GROUP BY user_id ORDER BY user_id
