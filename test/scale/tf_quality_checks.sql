-- pushdown: function
-- Every quality detector as a table function over the events table.
SELECT 'skewed_devices' AS detector, to_jsonb(s)::text AS r FROM apivalue.skewed_devices('{{events}}', 'device_id', 'ts', 'sent_at', 'received_at') s
UNION ALL SELECT 'duplicate_keys', to_jsonb(d)::text FROM apivalue.duplicate_keys('{{events}}', 'event_id', 'ts') d
UNION ALL SELECT 'duplicate_rate', to_jsonb(r)::text FROM apivalue.duplicate_rate('{{events}}', 'event_id', 'ts', '5 seconds') r
UNION ALL SELECT 'device_sequence_gaps', to_jsonb(g)::text FROM apivalue.device_sequence_gaps('{{events}}', 'device_id', 'seq') g
UNION ALL SELECT 'dead_periods', to_jsonb(p)::text FROM apivalue.dead_periods('{{events}}', 'ts', '6 hours', 'tenant') p
UNION ALL SELECT 'null_rates', to_jsonb(n)::text FROM apivalue.null_rates('{{events}}', ARRAY['endpoint', 'sdk_version', 'payload']) n
UNION ALL SELECT 'volume_anomalies', to_jsonb(v)::text FROM apivalue.volume_anomalies('{{events}}', 'ts', '1 hour', 24, 3.5) v
ORDER BY 1, 2
