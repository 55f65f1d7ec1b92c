-- title: per-device clock skew and sequence gaps (clock_skew_summary, sequence_gap_count) vs hand-written SQL
-- apivalue:
SELECT device_id, apivalue.median_offset(apivalue.clock_skew_summary(ts, sent_at, received_at)),
       apivalue.sequence_gap_count(seq)
FROM sample.events GROUP BY device_id;
-- hand:
SELECT device_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY sent_at - received_at),
       max(seq) - min(seq) + 1 - count(DISTINCT seq)
FROM sample.events GROUP BY device_id;
-- floor:
SELECT device_id, min(ts), max(ts) FROM sample.events GROUP BY device_id;
