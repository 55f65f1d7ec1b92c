-- pushdown: function
SELECT to_jsonb(r)::text FROM apivalue.duplicate_keys('{{events}}', 'event_id', 'ts') r ORDER BY 1
