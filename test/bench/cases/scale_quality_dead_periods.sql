-- title: gaps over 6 hours per tenant (dead_periods) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.dead_periods('sample.events', 'ts', '6 hours', 'tenant');
-- hand:
SELECT tenant, prev, ts FROM (SELECT tenant, ts, lag(ts) OVER (PARTITION BY tenant ORDER BY ts) AS prev FROM sample.events) g WHERE ts - prev > interval '6 hours';
-- floor:
SELECT tenant, min(ts), max(ts) FROM sample.events GROUP BY tenant;
