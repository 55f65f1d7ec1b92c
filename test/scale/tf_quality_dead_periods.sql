-- pushdown: function
SELECT to_jsonb(r)::text FROM apivalue.dead_periods('{{events}}', 'ts', '6 hours', 'tenant') r ORDER BY 1
