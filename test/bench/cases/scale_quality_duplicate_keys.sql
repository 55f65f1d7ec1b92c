-- title: duplicated event ids (duplicate_keys) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.duplicate_keys('sample.events', 'event_id', 'ts');
-- hand:
SELECT event_id, count(*), min(ts), max(ts) FROM sample.events GROUP BY event_id HAVING count(*) > 1;
-- floor:
SELECT event_id, min(ts), max(ts) FROM sample.events GROUP BY event_id;
