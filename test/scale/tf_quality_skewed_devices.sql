-- pushdown: function
SELECT to_jsonb(r)::text FROM apivalue.skewed_devices('{{events}}', 'device_id', 'ts', 'sent_at', 'received_at') r ORDER BY 1
