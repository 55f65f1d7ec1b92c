-- pushdown: function
SELECT to_jsonb(r)::text FROM apivalue.volume_anomalies('{{events}}', 'ts', '1 hour', 24, 3.5) r ORDER BY 1
