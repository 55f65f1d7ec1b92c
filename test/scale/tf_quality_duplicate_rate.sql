-- pushdown: function
SELECT to_jsonb(r)::text FROM apivalue.duplicate_rate('{{events}}', 'event_id', 'ts', '5 seconds') r ORDER BY 1
