-- pushdown: function
SELECT to_jsonb(r)::text FROM apivalue.null_rates('{{events}}', ARRAY['endpoint', 'sdk_version', 'payload']) r ORDER BY 1
