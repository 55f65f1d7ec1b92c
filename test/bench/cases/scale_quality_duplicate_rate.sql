-- title: duplicate rate within 5 s (duplicate_rate) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.duplicate_rate('sample.events', 'event_id', 'ts', '5 seconds');
-- hand:
SELECT count(*) FILTER (WHERE d <= interval '5 seconds')::float8 / count(*) FROM (SELECT ts - lag(ts) OVER (PARTITION BY event_id ORDER BY ts) AS d FROM sample.events) x;
-- floor:
SELECT event_id, min(ts), max(ts) FROM sample.events GROUP BY event_id;
