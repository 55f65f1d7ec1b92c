-- title: NULL rates of three columns (null_rates) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.null_rates('sample.events', ARRAY['endpoint', 'sdk_version', 'payload']);
-- hand:
SELECT 1 - count(endpoint)::float8 / count(*), 1 - count(sdk_version)::float8 / count(*), 1 - count(payload)::float8 / count(*) FROM sample.events;
-- floor:
SELECT count(*) FROM sample.events;
