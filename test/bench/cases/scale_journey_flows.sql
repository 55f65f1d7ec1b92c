-- title: journey flows from signup, 4 steps deep (journey_flows) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.journey_flows('sample.events', 'user_id', 'ts', 'event', 'signup', 4);
-- hand:
WITH o AS (SELECT user_id, ts, event, lag(event) OVER (PARTITION BY user_id ORDER BY ts, event) AS prev
           FROM sample.events),
c AS (SELECT user_id, ts, event FROM o WHERE prev IS DISTINCT FROM event),
s AS (SELECT user_id, min(ts) AS t0 FROM c WHERE event = 'signup' GROUP BY user_id),
n AS (SELECT c.user_id, c.event, row_number() OVER (PARTITION BY c.user_id ORDER BY c.ts, c.event) AS depth
      FROM c JOIN s ON s.user_id = c.user_id AND c.ts >= s.t0),
p AS (SELECT user_id, depth, event, lead(event) OVER (PARTITION BY user_id ORDER BY depth) AS next FROM n WHERE depth <= 4)
SELECT depth, event, next, count(*) FROM p WHERE next IS NOT NULL GROUP BY 1, 2, 3;
