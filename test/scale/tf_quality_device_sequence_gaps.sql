-- pushdown: function
SELECT to_jsonb(r)::text FROM apivalue.device_sequence_gaps('{{events}}', 'device_id', 'seq') r ORDER BY 1
