-- title: schema_drift per event at the v2 release vs jsonb_each in plain SQL
-- The hand-written SQL counts (event, side, path, type) with jsonb_each to
-- depth 2 (the sample's deepest level); comparing the counts afterwards is
-- cheap and left out, so the hand side is a lower bound.
-- apivalue:
SELECT * FROM apivalue.schema_drift('sample.events', 'payload', 'received_at', '2026-02-02', 'event');
-- hand:
SELECT e.event, e.received_at >= '2026-02-02' AS after, j.key AS path, jsonb_typeof(j.value), count(*)
FROM sample.events e, jsonb_each(e.payload) j
GROUP BY 1, 2, 3, 4
UNION ALL
SELECT e.event, e.received_at >= '2026-02-02', j.key || '.' || k.key, jsonb_typeof(k.value), count(*)
FROM sample.events e, jsonb_each(e.payload) j, jsonb_each(j.value) k
WHERE jsonb_typeof(j.value) = 'object'
GROUP BY 1, 2, 3, 4;
-- floor:
SELECT event, received_at >= '2026-02-02', count(jsonb_typeof(payload)) FROM sample.events GROUP BY 1, 2;
