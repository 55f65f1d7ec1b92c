-- title: near duplicates per device within 5 s (near_duplicate_count, event name as fingerprint) vs hand-written SQL
-- apivalue:
SELECT device_id, apivalue.near_duplicate_count(event, ts, '5 seconds')
FROM sample.events GROUP BY device_id;
-- hand:
SELECT device_id, count(*) FILTER (WHERE d <= interval '5 seconds')
FROM (SELECT device_id, ts - lag(ts) OVER (PARTITION BY device_id, event ORDER BY ts) AS d
      FROM sample.events) e
GROUP BY device_id;
-- floor:
SELECT device_id, min(ts), max(ts) FROM sample.events GROUP BY device_id;
