-- title: sequence gaps per device (device_sequence_gaps) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.device_sequence_gaps('sample.events', 'device_id', 'seq');
-- hand:
SELECT device_id, count(*), sum(gap) FROM (SELECT device_id, seq - lag(seq) OVER (PARTITION BY device_id ORDER BY seq) - 1 AS gap FROM sample.events) g WHERE gap > 0 GROUP BY device_id;
-- floor:
SELECT device_id, min(ts), max(ts) FROM sample.events GROUP BY device_id;
