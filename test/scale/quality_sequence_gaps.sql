-- pushdown: partial
-- Per-device sequence gaps: devices are not the distribution column, so the
-- workers aggregate partially and the coordinator combines the summaries.
SELECT device_id, apivalue.sequence_gap_count(seq)
FROM {{events}} GROUP BY device_id ORDER BY device_id
