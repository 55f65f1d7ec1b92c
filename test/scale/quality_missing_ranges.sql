-- pushdown: partial
SELECT device_id, apivalue.missing_sequence_ranges(seq), apivalue.sequence_summary(seq)
FROM {{events}} GROUP BY device_id ORDER BY device_id
