-- title: devices with a skewed clock (skewed_devices) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.skewed_devices('sample.events', 'device_id', 'ts', 'sent_at', 'received_at');
-- hand:
SELECT device_id, m FROM (SELECT device_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - received_at)) AS m FROM sample.events GROUP BY device_id) d WHERE abs(m) > 300;
-- floor:
SELECT device_id, min(ts), max(ts) FROM sample.events GROUP BY device_id;
